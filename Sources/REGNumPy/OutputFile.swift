#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One output being written. For a regular or new file: a temporary file `.<name>.reg-tmp-<pid>`
/// beside the target, written, flushed to disk, and renamed over the target by `commit`; removed
/// by `discard` (or by the signal cleanup of `TemporaryFiles`) if it never gets there. For a
/// device or FIFO: the file itself, written in place.
final class OutputFile {
    let target: OutputTarget
    let sink: FileSink
    private var temporary: String?
    private var slot: Int?
    private var isOpen = true

    init(_ target: OutputTarget, chunkLimit: Int = FileSink.maxChunk) throws(NumPyError) {
        self.target = target
        let descriptor: Int32
        if target.isAtomic {
            (descriptor, temporary, slot) = try Self.createTemporary(beside: target)
            if case .regularFile(let mode, let owner, let group) = target.kind {
                // The replacement keeps the old file's permissions (and owner, where allowed).
                fchmod(descriptor, mode)
                _ = fchown(descriptor, owner, group)
            }
        } else {
            descriptor = open(target.resolved, O_WRONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw NumPyError(.io, file: target.path, "cannot write: \(systemReason(errno))") }
        }
        sink = FileSink(descriptor: descriptor, name: target.path, chunkLimit: chunkLimit)
    }

    deinit { discard() }

    func write(_ array: NumPyArray) throws(NumPyError) {
        try sink.writeAll(array.npyHeader())
        try array.withValueBytes { bytes throws(NumPyError) in try sink.writeAll(bytes) }
    }

    /// Flushes and closes the file; the data is on disk before a rename can make it visible.
    func finish() throws(NumPyError) {
        guard isOpen else { return }
        isOpen = false
        if temporary != nil, fsync(sink.descriptor) != 0, errno != EINVAL {
            let code = errno
            close(sink.descriptor)
            throw NumPyError(.io, file: target.path, "cannot write: \(systemReason(code))")
        }
        guard close(sink.descriptor) == 0 else { throw NumPyError(.io, file: target.path, "cannot write: \(systemReason(errno))") }
    }

    /// Moves the finished temporary file over the target, then flushes the folder's entry.
    func commit() throws(NumPyError) {
        guard let temporary else { return }
        guard rename(temporary, target.resolved) == 0 else {
            throw NumPyError(.io, file: target.path, "cannot replace \(target.resolved): \(systemReason(errno))")
        }
        self.temporary = nil
        TemporaryFiles.forget(slot)
        let folder = open(splitPath(target.resolved).folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
    }

    /// Closes the file and removes the temporary one; the target stays as it was.
    func discard() {
        if isOpen {
            isOpen = false
            close(sink.descriptor)
        }
        if let temporary {
            unlink(temporary)
            self.temporary = nil
            TemporaryFiles.forget(slot)
        }
    }

    private static func createTemporary(beside target: OutputTarget) throws(NumPyError) -> (Int32, String, Int?) {
        let (folder, name) = splitPath(target.resolved)
        // Visible enough to spot ("ls -a"), short enough for NAME_MAX with a long target name.
        var stem = Substring(name)
        while stem.utf8.count > 200 { stem = stem.dropLast() }
        for attempt in 0..<100 {
            let path = "\(folder)/.\(stem).reg-tmp-\(getpid())\(attempt == 0 ? "" : "-\(attempt)")"
            // Remembered before it exists, so a signal between open and here cannot leak it.
            let slot = TemporaryFiles.remember(path)
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if descriptor >= 0 { return (descriptor, path, slot) }
            let code = errno
            TemporaryFiles.forget(slot)
            guard code == EEXIST else {
                throw NumPyError(.io, file: target.path, "cannot create a temporary file in \(folder): \(systemReason(code))")
            }
        }
        throw NumPyError(.io, file: target.path, "cannot create a temporary file in \(folder): too many exist")
    }
}
