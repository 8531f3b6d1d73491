#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where an output path leads, and whether it can be written, found before anything is computed.
///
/// Symlinks are followed: the file they lead to is the one replaced, and the link stays a link.
/// A regular file or a new path is written atomically (a temporary file beside it, then rename);
/// a character device, FIFO or other special file is opened and written in place. A folder, a
/// read-only file (no write bit for anyone, whoever runs) or a folder without write permission
/// is refused with an error naming the path.
public struct OutputTarget: Sendable {
    public enum Kind: Equatable, Sendable {
        /// No file yet: one is created.
        case newFile
        /// An existing regular file, replaced keeping its mode and owner.
        case regularFile(mode: mode_t, owner: uid_t, group: gid_t)
        /// A character device, FIFO or the like: opened and written directly.
        case special
    }

    /// The path as given; errors name it.
    public let path: String
    /// The file written: `path` with symlinks followed (the device path itself for `.special`).
    public let resolved: String
    public let kind: Kind

    /// Resolves `path` and checks that it can be written.
    public init(path: String) throws(NumPyError) {
        self.path = path
        func refuse(_ reason: String) -> NumPyError { NumPyError(.io, file: path, "cannot write: \(reason)") }
        var status = stat()
        if stat(path, &status) == 0 {
            switch status.st_mode & S_IFMT {
            case S_IFDIR:
                throw refuse("is a directory")
            case S_IFREG:
                resolved = Self.realPath(path) ?? path
                kind = .regularFile(mode: status.st_mode & 0o7777, owner: status.st_uid, group: status.st_gid)
                let named = Self.followingLinks(path) == path ? "" : " \(resolved)" // a symlink's target
                // Root may write anything, so `access` alone would not see a file marked read-only.
                guard status.st_mode & 0o222 != 0 else { throw refuse("file\(named) is read-only") }
                guard access(resolved, W_OK) == 0 else { throw refuse("file\(named): \(systemReason(errno))") }
            default:
                resolved = path
                kind = .special
                guard access(path, W_OK) == 0 else { throw refuse(systemReason(errno)) }
                return
            }
        } else if errno == ENOENT {
            resolved = Self.followingLinks(path)
            kind = .newFile
        } else {
            throw refuse(systemReason(errno))
        }
        // The temporary file is created, and renamed, in the target's folder.
        let (folder, name) = splitPath(resolved)
        guard !["", ".", ".."].contains(name) else { throw refuse(path.isEmpty ? "the path is empty" : "not a file name") }
        guard stat(folder, &status) == 0 else {
            throw refuse(errno == ENOENT ? "folder \(folder) does not exist" : "folder \(folder): \(systemReason(errno))")
        }
        guard status.st_mode & S_IFMT == S_IFDIR else { throw refuse("\(folder) is not a folder") }
        guard access(folder, W_OK | X_OK) == 0 else { throw refuse("folder \(folder): \(systemReason(errno))") }
    }

    /// Whether the file is replaced by a temporary one (else written in place).
    var isAtomic: Bool { kind != .special }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The path a new file gets when `path` is missing or a dangling symlink: the link's target,
    /// followed link by link (`realpath` gives up on a target that does not exist yet).
    private static func followingLinks(_ path: String) -> String {
        var current = path
        var status = stat()
        for _ in 0..<40 where lstat(current, &status) == 0 && status.st_mode & S_IFMT == S_IFLNK {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(current, &buffer, Int(PATH_MAX))
            guard length > 0 else { break }
            let target = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = target.hasPrefix("/") ? target : splitPath(current).folder + "/" + target
        }
        return current
    }
}
