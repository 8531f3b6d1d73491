import Foundation
import Testing
import REGNumPy

/// Files written by NumPy itself (Tests/Fixtures/NumPy/make_fixtures.py), with their values
/// written out here.
@Suite("NumPy: files written by NumPy")
struct NumPyFixtureTests {
    static func read(_ name: String) throws -> NumPyArray {
        try NumPyArray(contentsOf: NumPyFixtures.url(name))
    }

    @Test("Each supported dtype, ranks 0 to 4")
    func supportedDTypes() throws {
        let f4 = try Self.read("f4_2x3.npy")
        #expect(f4.shape == [2, 3] && f4.dtype == .float32)
        #expect(try f4.floats().map(\.bitPattern) == ([0.5, -1, 3.25, .infinity, -0.0, 1e-38] as [Float]).map(\.bitPattern))

        let scalar = try Self.read("f8_scalar.npy")
        #expect(scalar.shape == [] && scalar.storage == .float64([3.125]))
        #expect(try Self.read("u1_5.npy").storage == .uint8([0, 1, 2, 254, 255]))
        let b1 = try Self.read("b1_2x2.npy")
        #expect(b1.shape == [2, 2] && b1.storage == .bool([true, false, false, true]))
        let i4 = try Self.read("i4_2x1x3.npy")
        #expect(i4.shape == [2, 1, 3] && i4.storage == .int32([0, -1, 2, .max, .min, 255]))
        #expect(try Self.read("i8_4.npy").storage == .int64([-(1 << 40), 0, 7, 1 << 62]))
        let rank4 = try Self.read("f4_1x2x1x3.npy")
        #expect(rank4.shape == [1, 2, 1, 3] && rank4.storage == .float32([0, 0.25, 0.5, 0.75, 1, 1.25]))
        let empty = try Self.read("f4_0x3.npy")
        #expect(empty.shape == [0, 3] && empty.count == 0)
        // float16: kept as halves, widened to float32 exactly.
        let f2 = try Self.read("f2_2x3.npy")
        let halves: [Float16] = [0.5, -1, 65504, .infinity, -0.0, .leastNonzeroMagnitude]
        #expect(f2.shape == [2, 3] && f2.dtype == .float16 && f2.storage == .float16(halves))
        #expect(try f2.floats().map(\.bitPattern) == halves.map { Float($0).bitPattern })
    }

    @Test("Fortran order and big-endian files come back in C order with native values")
    func converted() throws {
        let fortran = try Self.read("f4_fortran_2x3.npy")
        #expect(fortran.shape == [2, 3] && fortran.storage == .float32([1, 2, 3, 4, 5, 6]))
        #expect(try Self.read("f8_big_3.npy").storage == .float64([1.5, -2, 1e300]))
        #expect(try Self.read("f2_big_3.npy").storage == .float16([1.5, -2, 0.25]))
        let both = try Self.read("i4_big_fortran_3x2.npy")
        #expect(both.shape == [3, 2] && both.storage == .int32([1, 2, 3, 4, 5, -6]))
        #expect(try Self.read("i8_big_2x2.npy").storage == .int64([1, -2, 1 << 40, -(1 << 40)]))
        let cube = try Self.read("u1_fortran_2x2x2.npy")
        #expect(cube.shape == [2, 2, 2] && cube.storage == .uint8([0, 1, 2, 3, 4, 5, 6, 7]))
    }

    @Test("Format versions 2.0 and 3.0")
    func versions() throws {
        #expect(try Self.read("f4_v2_3.npy").storage == .float32([1, 2, 3]))
        #expect(try Self.read("i4_v3_2.npy").storage == .int32([7, -7]))
    }

    @Test("REG writes C-order little-endian arrays byte for byte as NumPy does",
          arguments: ["f4_2x3.npy", "f8_scalar.npy", "u1_5.npy", "b1_2x2.npy", "i4_2x1x3.npy", "i8_4.npy",
                      "f4_1x2x1x3.npy", "f4_0x3.npy", "f2_2x3.npy"])
    func writerMatchesNumPy(name: String) throws {
        let written = try Self.read(name).npyData()
        #expect([UInt8](written) == (try NumPyFixtures.bytes(name)))
    }

    @Test("A dtype REG does not take is refused by name")
    func unsupported() throws {
        let error = try #require(throws: NumPyError.self) { try Self.read("i2_3.npy") }
        #expect(error.kind == .unsupportedDType)
        #expect(error.description.contains("i2_3.npy") && error.reason.contains("'<i2'"), "\(error)")
    }
}
