import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The temporary files being written, kept where a signal handler can reach them: a fixed,
/// preallocated table of C strings and flags, read without locks or allocation, so that an
/// interrupted process removes them before it dies (`installInterruptCleanup`).
public enum TemporaryFiles {
    static let slots = 32
    static let slotBytes = Int(PATH_MAX)

    // Allocated once and never freed: the handler may run at any moment of the process's life.
    nonisolated(unsafe) static let paths: UnsafeMutablePointer<CChar> = {
        let table = UnsafeMutablePointer<CChar>.allocate(capacity: slots * slotBytes)
        table.initialize(repeating: 0, count: slots * slotBytes)
        return table
    }()
    nonisolated(unsafe) static let inUse: UnsafeMutablePointer<sig_atomic_t> = {
        let flags = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: slots)
        flags.initialize(repeating: 0, count: slots)
        return flags
    }()
    private static let lock = NSLock()
    nonisolated(unsafe) private static var installed = false

    /// Remembers `path` until `forget`; nil when the table is full or the path too long (the file
    /// is then still removed on errors, only not on signals).
    static func remember(_ path: String) -> Int? {
        let bytes = Array(path.utf8)
        guard bytes.count < slotBytes else { return nil }
        lock.lock()
        defer { lock.unlock() }
        guard let slot = (0..<slots).first(where: { inUse[$0] == 0 }) else { return nil }
        let start = paths + slot * slotBytes
        bytes.withUnsafeBytes { raw in
            UnsafeMutableRawPointer(start).copyMemory(from: raw.baseAddress!, byteCount: bytes.count)
        }
        start[bytes.count] = 0
        inUse[slot] = 1 // after the path is complete: the handler reads only flagged slots
        return slot
    }

    static func forget(_ slot: Int?) {
        guard let slot else { return }
        lock.lock()
        inUse[slot] = 0
        lock.unlock()
    }

    /// The paths now remembered, for tests.
    static var remembered: [String] {
        lock.lock()
        defer { lock.unlock() }
        return (0..<slots).filter { inUse[$0] != 0 }.map { String(cString: paths + $0 * slotBytes) }
    }

    /// Unlinks every remembered file. Async-signal-safe: only `unlink` and reads of the table.
    static func removeAll() {
        for slot in 0..<slots where inUse[slot] != 0 {
            unlink(paths + slot * slotBytes)
        }
    }

    /// On SIGINT, SIGTERM and SIGHUP, removes the temporary files being written, then dies of the
    /// signal as it would have without the handler. Signals the process ignores stay ignored.
    /// Call once, early, from a program (not a library); later calls do nothing.
    public static func installInterruptCleanup() {
        lock.lock()
        defer { lock.unlock() }
        guard !installed else { return }
        installed = true
        _ = (paths, inUse) // initialised before any handler can run
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            let previous = signal(sig, interruptHandler)
            if unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { signal(sig, SIG_IGN) }
            sigaddset(&unblocked, sig)
        }
        // A parent may start us with these blocked (Foundation's Process spawns from threads that
        // block every signal); then SIGTERM would not even end the process.
        pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
    }
}

private func interruptHandler(_ sig: Int32) {
    TemporaryFiles.removeAll()
    // Default action again, then the same signal: the parent sees the process die of it.
    signal(sig, SIG_DFL)
    raise(sig)
}
