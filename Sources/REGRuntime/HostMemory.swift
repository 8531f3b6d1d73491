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

    /// Readies fresh memory that is about to be overwritten in full, such as the array a large
    /// read-back lands in, so that the copy into it does not stop at every page.
    ///
    /// A new large allocation has no pages yet: writing it takes one page fault per 4 KiB page, and
    /// on Linux that cost ≈ 0.3 s for 671 MB here, several times the copy itself. This asks for
    /// transparent huge pages on the region's 2 MiB-aligned interior (`MADV_HUGEPAGE`: one fault per
    /// 2 MiB, and a faster `free` later) and then faults every page in with one call
    /// (`MADV_POPULATE_WRITE`, Linux 5.14+). Neither reads nor changes the contents. A no-op below
    /// 4 MiB, without Glibc, and for whichever advice the kernel does not know.
    public static func prepareForOverwrite(_ region: UnsafeMutableRawBufferPointer) {
        #if canImport(Glibc)
        guard let base = region.baseAddress, region.count >= 4 << 20 else { return }
        let start = UInt(bitPattern: base), end = start + UInt(region.count)
        let huge = UInt(2 << 20)
        let hugeStart = (start + huge - 1) & ~(huge - 1), hugeEnd = end & ~(huge - 1)
        if hugeEnd > hugeStart {
            _ = madvise(UnsafeMutableRawPointer(bitPattern: hugeStart), Int(hugeEnd - hugeStart), Int32(MADV_HUGEPAGE))
        }
        let page = UInt(max(sysconf(Int32(_SC_PAGESIZE)), 4096))
        let first = start & ~(page - 1)
        _ = madvise(UnsafeMutableRawPointer(bitPattern: first), Int(end - first), populateWrite)
        #endif
    }

    #if canImport(Glibc)
    /// `MADV_POPULATE_WRITE` (Linux 5.14), spelled out for C libraries whose headers predate it.
    private static let populateWrite: Int32 = 23
    #endif

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
