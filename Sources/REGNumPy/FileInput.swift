import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads whole files with POSIX calls, to the end, so pipes, FIFOs and `/dev/stdin` work as well
/// as regular files (Foundation's `Data(contentsOf:)` needs a file it can size).
enum FileInput {
    /// Linux moves at most 0x7ffff000 bytes per `read`; asking for more is harmless but pointless.
    static let maxChunk = 0x7fff_f000

    static func contents(ofPath path: String) throws(NumPyError) -> Data {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw NumPyError(.io, file: path, "cannot read: \(systemReason(errno))") }
        defer { close(fd) }
        return try contents(of: fd, source: path)
    }

    /// Reads `fd` to its end; `source` names it in errors.
    static func contents(of fd: Int32, source: String) throws(NumPyError) -> Data {
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw NumPyError(.io, file: source, "cannot read: \(systemReason(errno))") }
        if status.st_mode & S_IFMT == S_IFDIR { throw NumPyError(.io, file: source, "cannot read: is a directory") }
        // A regular file's size is a good first guess; one spare byte lets the final read see the end.
        let regular = status.st_mode & S_IFMT == S_IFREG
        var data = Data(count: regular ? Int(status.st_size) + 1 : 1 << 16)
        var filled = 0
        while true {
            if filled == data.count { data.count += max(data.count, 1 << 16) }
            let room = min(data.count - filled, maxChunk)
            let got = data.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, room) }
            if got < 0 {
                if errno == EINTR { continue }
                throw NumPyError(.io, file: source, "cannot read: \(systemReason(errno))")
            }
            if got == 0 { break }
            filled += got
        }
        data.count = filled
        return data
    }
}
