import Foundation
import Testing
import REGDiagnostics
import REGNumPy

/// `.npz` archives: REG's own round trip, the archives NumPy writes (Tests/Fixtures/NumPyArchive,
/// made by make_archives.py there, values written out here), and malformed archives, each an
/// error naming the archive and, where there is one, the member.
@Suite("NumPy: .npz archives")
struct NumPyArchiveTests {
    static let folder = NumPyFixtures.folder.deletingLastPathComponent().appendingPathComponent("NumPyArchive")

    static func url(_ name: String) -> URL { folder.appendingPathComponent(name) }

    static func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: url(name))) }

    /// Reading `bytes` throws a `NumPyError` naming `case.npz` whose reason contains `fragment`.
    @discardableResult
    static func expectError(_ bytes: [UInt8], _ fragment: String, kind: NumPyError.Kind? = nil,
                            sourceLocation: SourceLocation = #_sourceLocation) -> NumPyError? {
        do {
            let archive = try NumPyArchive(npz: Data(bytes), source: "case.npz")
            Issue.record("expected an error, read \(archive.names)", sourceLocation: sourceLocation)
            return nil
        } catch {
            #expect(error.file == "case.npz", "\(error)", sourceLocation: sourceLocation)
            #expect(error.reason.contains(fragment), "\(error)", sourceLocation: sourceLocation)
            if let kind { #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation) }
            return error
        }
    }

    /// Where `pattern` first occurs in `bytes`.
    static func offset(of pattern: String, in bytes: [UInt8], after start: Int = 0) throws -> Int {
        try offset(of: Array(pattern.utf8), in: bytes, after: start)
    }

    static func offset(of needle: [UInt8], in bytes: [UInt8], after start: Int = 0) throws -> Int {
        let found = (start...(bytes.count - needle.count)).first { Array(bytes[$0..<($0 + needle.count)]) == needle }
        return try #require(found, "\(needle) not found")
    }

    static let sample: [String: NumPyArray] = {
        func make(_ body: () throws -> NumPyArray) -> NumPyArray { try! body() }
        return [
            "logits": make { try NumPyArray(shape: [2, 3], float32: [0.5, -1, 3.25, .infinity, -0.0, 1e-38]) },
            "doubles": make { try NumPyArray(shape: [3], float64: [1.5, -2, 1e300]) },
            "labels": make { try NumPyArray(shape: [1, 2, 2], uint8: [0, 1, 255, 3]) },
            "mask": make { try NumPyArray(shape: [2], bool: [true, false]) },
            "int32": make { try NumPyArray(shape: [2], int32: [.min, .max]) },
            "count": make { try NumPyArray(shape: [], int64: [7]) },
            "empty": make { try NumPyArray(shape: [0, 6], float32: []) },
        ]
    }()

    @Test("Round trip: every dtype, a scalar and an empty array, in memory and through a file")
    func roundTrip() throws {
        let archive = NumPyArchive(Self.sample)
        let data = try archive.npzData()
        #expect(data.starts(with: [0x50, 0x4B, 0x03, 0x04]), "a ZIP local header first")
        #expect(try archive.npzData() == data, "the same arrays give the same bytes")
        let back = try NumPyArchive(npz: data, source: "mem.npz")
        #expect(back == archive)
        #expect(back.names == ["count", "doubles", "empty", "int32", "labels", "logits", "mask"])
        #expect(back["logits"]?.source == "mem.npz:logits")
        #expect(try back.array("logits").floats().map(\.bitPattern)
                    == ([0.5, -1, 3.25, .infinity, -0.0, 1e-38] as [Float]).map(\.bitPattern))

        let folder = try FileTestFolder()
        try archive.write(to: folder.url.appendingPathComponent("a.npz"))
        let fromFile = try NumPyArchive(contentsOf: folder.url.appendingPathComponent("a.npz"))
        #expect(fromFile == archive && fromFile.source == folder.path("a.npz"))
        #expect(try folder.bytes("a.npz") == data)
        #expect(folder.temporaries.isEmpty)
        // An empty archive is an archive too.
        #expect(try NumPyArchive(npz: try NumPyArchive().npzData()).names.isEmpty)
    }

    @Test("Writing keeps NumPyOutput's rules: replaces atomically, refuses a folder, leaves no temporary file")
    func writing() throws {
        let folder = try FileTestFolder()
        let path = folder.path("g.npz")
        try Data("old".utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o640)
        try NumPyArchive(Self.sample).write(toPath: path)
        #expect(try NumPyArchive(contentsOf: URL(fileURLWithPath: path)) == NumPyArchive(Self.sample))
        var status = stat()
        stat(path, &status)
        #expect(status.st_mode & 0o777 == 0o640, "the replacement keeps the old file's mode")
        #expect(throws: NumPyError.self) { try NumPyArchive(Self.sample).write(toPath: folder.path("")) }
        do {
            try NumPyArchive(Self.sample).write(toPath: folder.path("missing/g.npz"))
            Issue.record("wrote into a missing folder")
        } catch {
            #expect(error.file == folder.path("missing/g.npz") && error.reason.contains("does not exist"), "\(error)")
        }
        #expect(throws: NumPyError.self) { try NumPyArchive(["a/b": Self.sample["count"]!]).npzData() }
        #expect(folder.temporaries.isEmpty)
    }

    @Test("Archives written by np.savez (stored) and np.savez_compressed (deflate)",
          arguments: ["arrays_stored.npz", "arrays_compressed.npz"])
    func numPyWritten(name: String) throws {
        let archive = try NumPyArchive(contentsOf: Self.url(name))
        #expect(archive.names == ["b1", "empty", "f4", "f8_fortran", "i8_scalar", "u1"])
        let f4 = try archive.array("f4")
        #expect(f4.shape == [2, 3] && f4.source == Self.url(name).path + ":f4")
        #expect(try f4.floats().map(\.bitPattern) == ([0.5, -1, 3.25, .infinity, -0.0, 1e-38] as [Float]).map(\.bitPattern))
        #expect(try archive.array("u1").storage == .uint8([0, 1, 2, 254, 255]))
        let scalar = try archive.array("i8_scalar")
        #expect(scalar.shape == [] && scalar.storage == .int64([7]))
        let fortran = try archive.array("f8_fortran")
        #expect(fortran.shape == [3, 2] && fortran.storage == .float64([1.5, 2, 3, -4, 5, 6]))
        #expect(try archive.array("b1").storage == .bool([true, false, false, true]))
        #expect(try archive.array("empty").shape == [0, 6])
        // The same bytes from memory.
        #expect(try NumPyArchive(npz: Data(try Self.bytes(name))) == archive)
    }

    @Test("A missing array names the archive, the member and what it holds")
    func missingArray() throws {
        let archive = try NumPyArchive(contentsOf: Self.url("arrays_stored.npz"))
        do {
            _ = try archive.array("det_targets")
            Issue.record("found det_targets")
        } catch {
            #expect(error.kind == .missingKey)
            #expect(error.description == "\(Self.url("arrays_stored.npz").path): has no array 'det_targets' (member det_targets.npy); it holds b1, empty, f4, f8_fortran, i8_scalar, u1")
        }
    }

    @Test("Not a ZIP, truncated, a member that is not a .npy, corrupt data, a corrupt directory")
    func malformed() throws {
        let stored = try Self.bytes("arrays_stored.npz")
        let compressed = try Self.bytes("arrays_compressed.npz")
        Self.expectError([], "not a .npz archive", kind: .badMagic)
        Self.expectError([UInt8](try NumPyArray(shape: [2], float32: [1, 2]).npyData()), "no ZIP end-of-central-directory record",
                         kind: .badMagic)
        Self.expectError(Array(stored.prefix(stored.count - 10)), "not a .npz archive", kind: .badMagic)
        Self.expectError(Array(stored.prefix(stored.count / 2)), "not a .npz archive", kind: .badMagic)

        // np.load would raise on this member too; REG names it and keeps the .npy reader's reason.
        do {
            _ = try NumPyArchive(contentsOf: Self.url("bad_member.npz"))
            Issue.record("read bad_member.npz")
        } catch {
            #expect(error.description == "\(Self.url("bad_member.npz").path): member junk.npy: not a .npy file (no \\x93NUMPY magic)")
            #expect(error.kind == .badMagic)
        }

        // A flipped value byte of a stored member: its CRC-32 no longer matches.
        var flipped = stored
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        let f4Data = try Self.offset(of: magic, in: stored, after: try Self.offset(of: "f4.npy", in: stored)) + 128 // past the .npy header
        flipped[f4Data] ^= 0x40
        Self.expectError(flipped, "member f4.npy: CRC-32 mismatch", kind: .badHeader)

        // Damaged deflate data of a compressed member: named, whichever check catches it.
        var damaged = compressed
        let start = try Self.offset(of: "f4.npy", in: compressed) + 6
        for i in start..<(start + 24) { damaged[i] = 0xFF }
        Self.expectError(damaged, "member f4.npy: ")

        // A central directory record whose signature is broken: ZIPFoundation stops there.
        var directory = stored
        let second = try Self.offset(of: "PK\u{1}\u{2}", in: stored, after: try Self.offset(of: "PK\u{1}\u{2}", in: stored) + 4)
        directory[second + 2] = 0x09
        Self.expectError(directory, "the ZIP directory lists 6 members but 1 could be read")
    }

    @Test("Damaged archives never crash: byte corruptions anywhere, and in the directory, read or name the archive")
    func corruptionNeverCrashes() throws {
        var random = SplitMix64(seed: 11)
        let sources = [try Self.bytes("arrays_stored.npz"), try Self.bytes("arrays_compressed.npz"),
                       [UInt8](try NumPyArchive(Self.sample).npzData())]
        for original in sources {
            // The central directory and end record make up the last part of the archive.
            let directory = original.count - 6 * 60
            for trial in 0..<200 {
                var bytes = original
                let start = trial.isMultiple(of: 2) ? Int.random(in: 0..<bytes.count, using: &random)
                                                    : Int.random(in: directory..<bytes.count, using: &random)
                for i in start..<min(start + Int.random(in: 1...4, using: &random), bytes.count) {
                    bytes[i] = UInt8.random(in: 0...255, using: &random)
                }
                do {
                    _ = try NumPyArchive(npz: Data(bytes), source: "case.npz")
                } catch {
                    #expect(error.file == "case.npz", "byte \(start): \(error)")
                }
            }
        }
    }
}
