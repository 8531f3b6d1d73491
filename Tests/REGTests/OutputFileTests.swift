import Foundation
import Testing
@testable import REGNumPy

/// Writing `.npy` files: the write loop, atomic replacement, special files and refusals.
@Suite("Output files")
struct OutputFileTests {
    static let array = try! NumPyArray(shape: [3, 5], float64: (0..<15).map { Double($0) * 0.25 - 1 })

    @Test("The write loop advances by what each call wrote: tiny chunk limits give the same bytes",
          arguments: [1, 7, 64, 100_000])
    func chunkLimit(limit: Int) throws {
        let folder = try FileTestFolder()
        let arrays = [Self.array, try NumPyArray(shape: [2, 2], bool: [true, false, false, true]),
                      try NumPyArray(shape: [70_000], uint8: (0..<70_000).map { UInt8(truncatingIfNeeded: $0 % 251) })]
        for (n, array) in arrays.enumerated() {
            try NumPyOutput.write([(folder.path("a\(n).npy"), array)], chunkLimit: limit)
            #expect(try folder.bytes("a\(n).npy") == array.npyData(), "\(array.dtype) at \(limit) bytes a call")
        }
        #expect(folder.temporaries.isEmpty)
    }

    /// Linux's `write` moves at most 0x7ffff000 bytes a call; a writer that does not loop on what
    /// it returned loses or repeats the rest. 2 GiB on disk and in memory: opt in with
    /// REG_LARGE_FILE_TESTS=1.
    @Test("A file over 2 GiB is written whole", .enabled(if: ProcessInfo.processInfo.environment["REG_LARGE_FILE_TESTS"] == "1"))
    func overTwoGiB() throws {
        let folder = try FileTestFolder()
        let count = FileSink.maxChunk + (1 << 20)
        var values = [UInt8](repeating: 0, count: count)
        // A marker every MiB: a rewrite from the start would put the first markers at the end.
        for offset in stride(from: 0, to: count, by: 1 << 20) { values[offset] = UInt8(truncatingIfNeeded: (offset >> 20) + 1) }
        let array = try NumPyArray(shape: [count], uint8: values)
        let header = array.npyHeader().count
        try array.write(to: URL(fileURLWithPath: folder.path("big.npy")))
        let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: folder.path("big.npy")))
        defer { try? file.close() }
        #expect(try file.seekToEnd() == UInt64(header + count))
        for offset in stride(from: count - (8 << 20), to: count, by: 1 << 20) {
            try file.seek(toOffset: UInt64(header + offset))
            #expect(try file.read(upToCount: 2) == Data([values[offset], 0]), "at value \(offset)")
        }
    }

    @Test("Short writes and EINTR are retried from where the last write stopped")
    func shortWritesAndInterrupts() throws {
        let folder = try FileTestFolder()
        let fd = open(folder.path("short.npy"), O_WRONLY | O_CREAT, 0o644)
        defer { close(fd) }
        var calls = 0
        var sink = FileSink(descriptor: fd, name: "short.npy")
        // Every third call is interrupted, the others take at most 5 bytes of what they are offered.
        sink.systemWrite = { fd, bytes, count in
            calls += 1
            if calls % 3 == 0 {
                errno = EINTR
                return -1
            }
            return write(fd, bytes, min(count, 5))
        }
        let data = Self.array.npyData()
        try data.withUnsafeBytes { try sink.writeAll($0) }
        #expect(try folder.bytes("short.npy") == data)
        #expect(calls > data.count / 5)
    }

    @Test("A failing write names the file and the system's reason")
    func failingWrite() throws {
        let sink = FileSink(descriptor: -1, name: "nowhere.npy")
        let error = try #require(throws: NumPyError.self) { try sink.writeAll([1, 2, 3]) }
        #expect(error.kind == .io && error.description == "nowhere.npy: cannot write: bad file descriptor")
    }

    @Test("An existing file is replaced keeping its mode; no temporary file stays")
    func replaceKeepsMode() throws {
        let folder = try FileTestFolder()
        let path = folder.path("g.npy")
        try Data("old".utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o600)
        try Self.array.write(to: URL(fileURLWithPath: path))
        #expect(try folder.bytes("g.npy") == Self.array.npyData())
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        #expect(folder.names == ["g.npy"])
    }

    @Test("A symlink is followed: its target gets the array and the link stays a link, dangling or not")
    func symlink() throws {
        let folder = try FileTestFolder()
        try FileManager.default.createDirectory(atPath: folder.path("real"), withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: folder.path("link.npy"), withDestinationPath: "real/target.npy")
        for _ in 0..<2 { // dangling the first time, to an existing file the second
            try Self.array.write(to: URL(fileURLWithPath: folder.path("link.npy")))
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: folder.path("link.npy")) == "real/target.npy")
            #expect(try folder.bytes("real/target.npy") == Self.array.npyData())
        }
        #expect(folder.names == ["link.npy", "real"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path("real")) == ["target.npy"])
    }

    @Test("/dev/null is written in place and stays a character device")
    func deviceNull() throws {
        try Self.array.write(to: URL(fileURLWithPath: "/dev/null"))
        #expect(try OutputTarget(path: "/dev/null").kind == .special)
        var status = stat()
        #expect(stat("/dev/null", &status) == 0 && status.st_mode & S_IFMT == S_IFCHR)
    }

    @Test("Refusals name the path: a folder, a read-only file, a missing folder, a full device")
    func refusals() throws {
        let folder = try FileTestFolder()
        let readOnly = folder.path("ro.npy")
        try Data("keep".utf8).write(to: URL(fileURLWithPath: readOnly))
        chmod(readOnly, 0o444)
        let cases = [
            (folder.url.path, "\(folder.url.path): cannot write: is a directory"),
            (readOnly, "\(readOnly): cannot write: file is read-only"),
            (folder.path("none/a.npy"), "\(folder.path("none/a.npy")): cannot write: folder \(folder.path("none")) does not exist"),
            ("/dev/full", "/dev/full: cannot write: no space left on device"),
        ]
        for (path, message) in cases {
            let error = try #require(throws: NumPyError.self) { try Self.array.write(to: URL(fileURLWithPath: path)) }
            #expect(error.kind == .io && error.description == message)
        }
        // Paths a URL would tidy up.
        for (path, message) in [("", ": cannot write: the path is empty"), (folder.url.path + "/x/", "\(folder.url.path)/x/: cannot write: not a file name")] {
            let error = try #require(throws: NumPyError.self) { try OutputTarget(path: path) }
            #expect(error.description == message)
        }
        #expect(try folder.bytes("ro.npy") == Data("keep".utf8), "the read-only file is unchanged")
        #expect(folder.names == ["ro.npy"])
    }

    @Test("With several outputs, one that fails leaves every target as it was and no temporary file")
    func allOrNone() throws {
        let folder = try FileTestFolder()
        try Data("old".utf8).write(to: URL(fileURLWithPath: folder.path("b.npy")))
        for bad in [folder.url.path, "/dev/full"] {
            let files = [(folder.path("a.npy"), Self.array), (folder.path("b.npy"), Self.array), (bad, Self.array)]
            #expect(throws: NumPyError.self) { try NumPyOutput.write(files.map { (path: $0.0, array: $0.1) }) }
            #expect(folder.names == ["b.npy"], "after a failure writing \(bad)")
            #expect(try folder.bytes("b.npy") == Data("old".utf8))
        }
    }

    @Test("Temporary files are remembered for the signal cleanup while they exist, and forgotten after")
    func temporariesRemembered() throws {
        let folder = try FileTestFolder()
        let path = folder.path("t.npy")
        let target = try OutputTarget(path: path)
        let output = try OutputFile(target)
        let temporary = try #require(folder.temporaries.first)
        #expect(temporary.hasPrefix(".t.npy.reg-tmp-\(getpid())"))
        #expect(TemporaryFiles.remembered.contains(folder.path(temporary)))
        try output.write(Self.array)
        try output.finish()
        try output.commit()
        #expect(!TemporaryFiles.remembered.contains(folder.path(temporary)))
        #expect(folder.names == ["t.npy"])
    }
}
