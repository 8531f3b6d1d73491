#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file descriptor that takes bytes until all are written. One `write` call may take
/// fewer bytes than asked (Linux moves at most 0x7ffff000 per call; pipes and signals cut
/// writes short), so the loop advances by what each call returned.
struct FileSink {
    /// The most Linux's `write` moves in one call.
    static let maxChunk = 0x7fff_f000

    typealias SystemWrite = (Int32, UnsafeRawPointer, Int) -> Int

    let descriptor: Int32
    /// Names the file in errors.
    let name: String
    /// Bytes asked of one `write` call; tests make it tiny to exercise the loop.
    var chunkLimit = maxChunk
    /// The system call; tests substitute one that fails with EINTR or writes little.
    var systemWrite: SystemWrite = { write($0, $1, $2) }

    func writeAll(_ bytes: UnsafeRawBufferPointer) throws(NumPyError) {
        guard var next = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let written = systemWrite(descriptor, next, min(left, chunkLimit))
            if written < 0 {
                let code = errno
                if code == EINTR { continue }
                throw NumPyError(.io, file: name, "cannot write: \(systemReason(code))")
            }
            // Zero bytes for a non-empty request would loop forever; a full device says ENOSPC instead.
            guard written > 0 else { throw NumPyError(.io, file: name, "cannot write: the file takes no more bytes") }
            next += written
            left -= written
        }
    }

    func writeAll(_ bytes: [UInt8]) throws(NumPyError) {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(NumPyError) in try writeAll(raw) } }
        try result.get()
    }
}
