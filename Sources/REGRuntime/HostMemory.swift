#if canImport(Glibc)
import Glibc
#endif

/// How much memory this process can still allocate on the host, read before a large allocation:
/// a Swift array that cannot be allocated aborts the process, so REG checks first and throws.
public enum HostMemory {
    /// The smaller of the memory the kernel says is available (MemAvailable) and, under an
    /// address-space limit (`ulimit -v`), the room left below it. nil when neither is known
    /// (then nothing is refused).
    public static func availableBytes() -> UInt64? {
        let physical = meminfo("MemAvailable:").map { $0 * 1024 }
        var limit = rlimit()
        var addressSpace: UInt64? = nil
        if getrlimit(RLIMIT_AS_VALUE, &limit) == 0, limit.rlim_cur != rlim_t.max {
            let used = status("VmSize:").map { $0 * 1024 } ?? 0
            let cap = UInt64(limit.rlim_cur)
            addressSpace = cap > used ? cap - used : 0
        }
        switch (physical, addressSpace) {
        case let (p?, a?): return min(p, a)
        case let (p?, nil): return p
        case let (nil, a?): return a
        case (nil, nil): return nil
        }
    }

    #if canImport(Glibc)
    private static let RLIMIT_AS_VALUE = __rlimit_resource_t(RLIMIT_AS.rawValue)
    #endif

    /// A "Key:   value kB" line of /proc/meminfo, in kB.
    private static func meminfo(_ key: String) -> UInt64? { field(key, in: "/proc/meminfo") }

    /// A "Key:   value kB" line of /proc/self/status, in kB.
    private static func status(_ key: String) -> UInt64? { field(key, in: "/proc/self/status") }

    private static func field(_ key: String, in path: String) -> UInt64? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            guard text.hasPrefix(key) else { continue }
            return UInt64(text.dropFirst(key.count).split(separator: " ").first ?? "")
        }
        return nil
    }
}
