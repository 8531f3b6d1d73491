import Foundation
import Testing
import REGDiagnostics
import REGNumPy

@Suite("NumPy: round trips and conversions")
struct NumPyRoundTripTests {
    static let shapes: [[Int]] = [[], [5], [2, 3], [2, 1, 3], [1, 2, 2, 3], [3, 0, 2]]

    static func array(_ dtype: NumPyDType, shape: [Int], seed: UInt64) throws -> NumPyArray {
        var random = SplitMix64(seed: seed)
        let n = shape.reduce(1, *)
        switch dtype {
        case .float16: return try NumPyArray(shape: shape, float16: random.floats(n, in: -6e4...6e4).map { Float16($0) })
        case .float32: return try NumPyArray(shape: shape, float32: random.floats(n, in: -1e6...1e6))
        case .float64: return try NumPyArray(shape: shape, float64: (0..<n).map { _ in Double.random(in: -1e300...1e300, using: &random) })
        case .uint8: return try NumPyArray(shape: shape, uint8: (0..<n).map { _ in UInt8.random(in: 0...255, using: &random) })
        case .bool: return try NumPyArray(shape: shape, bool: (0..<n).map { _ in Bool.random(using: &random) })
        case .int32: return try NumPyArray(shape: shape, int32: (0..<n).map { _ in Int32.random(in: .min ... .max, using: &random) })
        case .int64: return try NumPyArray(shape: shape, int64: (0..<n).map { _ in Int64.random(in: .min ... .max, using: &random) })
        }
    }

    @Test("Every dtype and rank survives write then read", arguments: NumPyDType.allCases)
    func roundTrip(dtype: NumPyDType) throws {
        for (i, shape) in Self.shapes.enumerated() {
            let original = try Self.array(dtype, shape: shape, seed: UInt64(i))
            let data = original.npyData()
            #expect(data.count % 64 == (original.count * dtype.itemSize) % 64, "data starts 64-aligned")
            let back = try NumPyArray(npy: data)
            #expect(back == original, "\(dtype) \(shape)")
            // A slice of a larger buffer (its indices do not start at 0) reads the same.
            #expect(try NumPyArray(npy: (Data([7, 7, 7]) + data).dropFirst(3)) == original)
        }
    }

    @Test("Through a file, with NaN payloads and signed zeros kept bit for bit")
    func fileRoundTrip() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("reg-npy-\(getpid()).npy")
        defer { try? FileManager.default.removeItem(at: url) }
        let values: [Float] = [.nan, -.nan, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        try NumPyArray(shape: [7], float32: values).write(to: url)
        let back = try NumPyArray(contentsOf: url)
        #expect(back.source == url.path)
        #expect(try back.floats().map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test("A header too long for version 1.0 is written as 2.0")
    func version2() throws {
        // 25 000 axes of size 1: the shape alone needs more than 65 535 header bytes.
        let shape = [Int](repeating: 1, count: 25_000) + [2]
        let data = try NumPyArray(shape: shape, int32: [4, 5]).npyData()
        #expect(Array(data[6..<8]) == [2, 0])
        let back = try NumPyArray(npy: data)
        #expect(back.shape == shape && back.storage == .int32([4, 5]))
    }

    @Test("Values that do not fill the shape are refused")
    func shapeMismatch() {
        #expect(throws: NumPyError.self) { try NumPyArray(shape: [2, 3], float32: [1, 2, 3]) }
        #expect(throws: NumPyError.self) { try NumPyArray(shape: [-1], float32: []) }
        #expect(throws: NumPyError.self) { try NumPyArray(shape: [], int32: []) }
    }

    @Test("Exact conversions succeed")
    func exactConversions() throws {
        #expect(try NumPyArray(shape: [3], float32: [0, 2, 255]).uint8s() == [0, 2, 255])
        #expect(try NumPyArray(shape: [2], float64: [-3, 1e15]).int64s() == [-3, 1_000_000_000_000_000])
        #expect(try NumPyArray(shape: [2], bool: [true, false]).floats() == [1, 0])
        #expect(try NumPyArray(shape: [2], uint8: [0, 1]).bools() == [false, true])
        #expect(try NumPyArray(shape: [2], int64: [-7, 1 << 24]).floats() == [-7, 16_777_216])
        #expect(try NumPyArray(shape: [1], float64: [0.1]).floats() == [Float(0.1)], "float64 → float32 rounds")
        #expect(try NumPyArray(shape: [2], int32: [5, -5]).doubles() == [5, -5])
        #expect(try NumPyArray(shape: [2], int64: [1, 255]).int32s() == [1, 255])
    }

    @Test("Lossy conversions are errors naming the element",
          arguments: [
            (try! NumPyArray(shape: [2, 2], float32: [1, 2, 2.5, 4]), "int32", "element [1, 0] = 2.5"),
            (try! NumPyArray(shape: [3], int32: [0, 300, 1]), "uint8", "element [1] = 300"),
            (try! NumPyArray(shape: [2], float64: [1, 1e300]), "float32", "element [1] = 1e+300"),
            (try! NumPyArray(shape: [1], int64: [(1 << 40) + 1]), "float32", "element [0] = 1099511627777"),
            (try! NumPyArray(shape: [1], int64: [(1 << 62) + 1]), "float64", "element [0]"),
            (try! NumPyArray(shape: [2], float32: [1, .nan]), "int64", "element [1] = nan"),
            (try! NumPyArray(shape: [2], int32: [1, 2]), "bool", "element [1] = 2"),
            (try! NumPyArray(shape: [1], int64: [Int64(Int32.max) + 1]), "int32", "element [0] = 2147483648"),
          ])
    func lossyConversions(array: NumPyArray, target: String, fragment: String) {
        var named = array
        named.source = "labels.npy"
        let error = #expect(throws: NumPyError.self) {
            switch target {
            case "int32": _ = try named.int32s()
            case "int64": _ = try named.int64s()
            case "uint8": _ = try named.uint8s()
            case "float32": _ = try named.floats()
            case "float64": _ = try named.doubles()
            default: _ = try named.bools()
            }
        }
        #expect(error?.kind == .conversion)
        #expect(error?.description.hasPrefix("labels.npy: \(fragment)") == true, "\(String(describing: error))")
        #expect(error?.reason.contains("as \(target)") == true)
    }
}
