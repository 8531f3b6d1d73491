import Foundation
import Testing
@testable import REGNumPy

/// Reading `.npy` files that cannot be sized up front (pipes, FIFOs), and unreadable paths.
@Suite("Input files")
struct InputFileTests {
    static let array = try! NumPyArray(shape: [300, 70], float32: (0..<21_000).map { Float($0) / 7 })

    @Test("A pipe is read to its end, past the pipe buffer's size")
    func pipe() throws {
        let pipe = Pipe()
        let data = Self.array.npyData()
        #expect(data.count > 65536)
        let writer = Thread { pipe.fileHandleForWriting.write(data); try? pipe.fileHandleForWriting.close() }
        writer.start()
        let read = try NumPyArray(fileDescriptor: pipe.fileHandleForReading.fileDescriptor, source: "<pipe>")
        #expect(read == Self.array && read.source == "<pipe>")
    }

    @Test("A FIFO is read by its path")
    func fifo() throws {
        let folder = try FileTestFolder()
        let path = folder.path("fifo")
        #expect(mkfifo(path, 0o600) == 0)
        let data = Self.array.npyData()
        let writer = Thread { try? data.write(to: URL(fileURLWithPath: path)) }
        writer.start()
        #expect(try NumPyArray(contentsOf: URL(fileURLWithPath: path)) == Self.array)
    }

    @Test("A folder and a missing file are errors naming the path and what is wrong")
    func unreadable() throws {
        let folder = try FileTestFolder()
        let cases = [(folder.url.path, "is a directory"), (folder.path("missing.npy"), "no such file or directory")]
        for (path, reason) in cases {
            let error = try #require(throws: NumPyError.self) { try NumPyArray(contentsOf: URL(fileURLWithPath: path)) }
            #expect(error.kind == .io && error.description == "\(path): cannot read: \(reason)")
        }
    }
}
