import Foundation
import Testing
import REGDiagnostics
import REGNumPy

/// Every way a `.npy` file can be wrong gives a `NumPyError` of its kind, naming the file.
@Suite("NumPy: malformed files")
struct NumPyMalformedTests {
    static let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
    static let twoFloats: [UInt8] = [0, 0, 128, 63, 0, 0, 0, 64] // 1.0, 2.0

    @Test("The hand-built reference file reads, so the cases below fail for their own reason")
    func wellFormed() throws {
        let array = try NumPyArray(npy: Data(NumPyFixtures.npy(header: Self.header, data: Self.twoFloats)))
        #expect(array.storage == .float32([1, 2]))
        // Python 2 long suffixes, double quotes, no trailing comma, odd spacing: still NumPy's format.
        let old = try NumPyArray(npy: Data(NumPyFixtures.npy(
            header: "{ \"descr\" : \"<i4\" ,'shape':(1L,2L),'fortran_order':True}\n", data: [1, 0, 0, 0, 2, 0, 0, 0])))
        #expect(old.shape == [1, 2] && old.storage == .int32([1, 2]))
    }

    @Test("Bad magic, short files, unsupported versions")
    func magicAndVersion() {
        NumPyFixtures.expectError(.badMagic, Array("PK\u{3}\u{4} zip, not npy".utf8), reasonContains: "magic")
        NumPyFixtures.expectError(.badMagic, [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x58, 1, 0, 0, 0])
        NumPyFixtures.expectError(.badMagic, Array("hello".utf8))
        NumPyFixtures.expectError(.truncated, [])
        NumPyFixtures.expectError(.truncated, [0x93, 0x4E, 0x55, 0x4D])
        NumPyFixtures.expectError(.unsupportedVersion, NumPyFixtures.npy(header: Self.header, version: (4, 0), data: Self.twoFloats),
                                  reasonContains: "4.0")
        NumPyFixtures.expectError(.unsupportedVersion, NumPyFixtures.npy(header: Self.header, version: (1, 1), data: Self.twoFloats))
    }

    @Test("Headers that do not parse or hold the wrong things",
          arguments: [
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ", NumPyError.Kind.badHeader, "does not parse"),
            ("{'descr': '<f4', 'fortran_order': False 'shape': (2,)}", .badHeader, "expected ',' or '}'"),
            ("{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}", .badHeader, "does not parse"),
            ("[1, 2]", .badHeader, "not a dict"),
            ("", .badHeader, "does not parse"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} junk", .badHeader, "after the literal"),
            ("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}", .badHeader, "unknown name 'Maybe'"),
            ("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", .badHeader, "'fortran_order'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", .badHeader, "'shape' is not a tuple"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", .badHeader, "'shape' is not a tuple"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (1, -2)}", .badHeader, "axis 1"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': ('2',)}", .badHeader, "axis 0"),
            ("{'descr': 4, 'fortran_order': False, 'shape': (2,)}", .badHeader, "'descr'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000000000000000000,)}", .badHeader, "too large"),
            ("{'descr': '<f4', 'shape': (2,)}", .missingKey, "no 'fortran_order'"),
            ("{'fortran_order': False, 'shape': (2,)}", .missingKey, "no 'descr'"),
            ("{'descr': '<f4', 'fortran_order': False}", .missingKey, "no 'shape'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", .missingKey, "unexpected key 'extra'"),
            ("{'descr': '<U3', 'fortran_order': False, 'shape': (2,)}", .unsupportedDType, "'<U3'"),
            ("{'descr': '|i1', 'fortran_order': False, 'shape': (2,)}", .unsupportedDType, "'|i1'"),
            ("{'descr': '=f4', 'fortran_order': False, 'shape': (2,)}", .unsupportedDType, "'=f4'"),
            ("{'descr': '|O', 'fortran_order': False, 'shape': (2,)}", .unsupportedDType, "'|O'"),
            ("{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (2,)}", .unsupportedDType, "structured"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4)}", .overflow, "more elements"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,)}", .overflow, "more bytes"),
          ])
    func badHeaders(header: String, kind: NumPyError.Kind, fragment: String) {
        NumPyFixtures.expectError(kind, NumPyFixtures.npy(header: header, data: Self.twoFloats), reasonContains: fragment)
    }

    @Test("Nesting deep enough to exhaust a recursive parser is an error, not a crash")
    func deepNesting() {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + String(repeating: "(", count: 100_000) + "}"
        NumPyFixtures.expectError(.badHeader, NumPyFixtures.npy(header: header, version: (2, 0)), reasonContains: "nesting")
    }

    @Test("A version 3.0 header that is not UTF-8")
    func invalidUTF8() {
        var bytes = NumPyFixtures.npy(header: Self.header, version: (3, 0), data: Self.twoFloats)
        bytes[14] = 0xFF
        NumPyFixtures.expectError(.badHeader, bytes, reasonContains: "UTF-8")
    }

    @Test("Data shorter or longer than the shape, and a header longer than the file")
    func dataLength() {
        NumPyFixtures.expectError(.truncated, NumPyFixtures.npy(header: Self.header, data: Array(Self.twoFloats.dropLast())),
                                  reasonContains: "needs 8 bytes, the file has 7")
        NumPyFixtures.expectError(.truncated, NumPyFixtures.npy(header: Self.header), reasonContains: "the file has 0")
        NumPyFixtures.expectError(.shapeMismatch, NumPyFixtures.npy(header: Self.header, data: Self.twoFloats + [0]),
                                  reasonContains: "1 bytes after the data")
        var long = NumPyFixtures.npy(header: Self.header, version: (2, 0), data: Self.twoFloats)
        long[8...11] = [0xFF, 0xFF, 0xFF, 0xFF]
        NumPyFixtures.expectError(.truncated, long, reasonContains: "header is 4294967295 bytes")
        NumPyFixtures.expectError(.truncated, Array(NumPyFixtures.npy(header: Self.header).prefix(9)), reasonContains: "header length")
    }

    @Test("A missing file and a folder are errors naming the path")
    func unreadable() throws {
        let missing = URL(fileURLWithPath: "/nonexistent/logits.npy")
        let error = try #require(throws: NumPyError.self) { try NumPyArray(contentsOf: missing) }
        #expect(error.kind == .io && error.description.hasPrefix("/nonexistent/logits.npy: "))
        let folder = FileManager.default.temporaryDirectory
        #expect(throws: NumPyError.self) { try NumPyArray(contentsOf: folder) }
        #expect(throws: NumPyError.self) { try NumPyArray(shape: [1], float32: [1]).write(to: missing) }
    }

    /// Random byte changes, truncations and insertions of real files: each result either parses or
    /// throws a `NumPyError`; a trap would end the test process.
    @Test("Mutated files never crash the reader", arguments: ["f4_2x3.npy", "i4_big_fortran_3x2.npy", "f4_v2_3.npy"])
    func fuzz(name: String) throws {
        let original = try NumPyFixtures.bytes(name)
        var random = SplitMix64(seed: UInt64(name.utf8.count))
        var parsed = 0, refused = 0
        for _ in 0..<1500 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let at = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<4, using: &random) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &random)
                case 1: bytes[at] = Array("(),:'{}0123456789-TF<>|fiub ".utf8).randomElement(using: &random)!
                case 2: bytes.removeSubrange(at...)
                default: bytes.insert(UInt8.random(in: 0...255, using: &random), at: at)
                }
                if bytes.isEmpty { break }
            }
            do {
                _ = try NumPyArray(npy: Data(bytes))
                parsed += 1
            } catch {
                refused += 1
            }
        }
        #expect(refused > 0 && parsed > 0, "the mutations reach both outcomes: \(parsed) parsed, \(refused) refused")
    }
}
