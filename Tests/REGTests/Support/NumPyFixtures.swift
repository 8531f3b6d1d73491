import Foundation
import Testing
import REGNumPy

/// The NumPy-written files in Tests/Fixtures/NumPy (made by make_fixtures.py there), and
/// hand-built `.npy` bytes for the malformed-file cases.
enum NumPyFixtures {
    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/NumPy")

    static func url(_ name: String) -> URL { folder.appendingPathComponent(name) }

    static func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: url(name))) }

    /// A `.npy` file built by hand: magic, version, little-endian header length, the header text
    /// as given (no padding added), then `data`.
    static func npy(header: String, version: (UInt8, UInt8) = (1, 0), data: [UInt8] = []) -> [UInt8] {
        let text = Array(header.utf8)
        var bytes: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, version.0, version.1]
        let lengthBytes = version.0 == 1 ? 2 : 4
        for i in 0..<lengthBytes { bytes.append(UInt8(truncatingIfNeeded: text.count >> (8 * i))) }
        return bytes + text + data
    }

    /// Reading `bytes` throws a `NumPyError` of `kind` that names the file; returns it.
    @discardableResult
    static func expectError(_ kind: NumPyError.Kind, _ bytes: [UInt8], reasonContains fragment: String = "",
                            sourceLocation: SourceLocation = #_sourceLocation) -> NumPyError? {
        do {
            let array = try NumPyArray(npy: Data(bytes), source: "case.npy")
            Issue.record("expected \(kind), read \(array.shape) \(array.dtype)", sourceLocation: sourceLocation)
            return nil
        } catch {
            #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.hasPrefix("case.npy: "), "\(error)", sourceLocation: sourceLocation)
            #expect(fragment.isEmpty || error.reason.contains(fragment), "\(error)", sourceLocation: sourceLocation)
            return error
        }
    }
}
