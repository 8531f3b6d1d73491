import REG
import REGRuntime

extension Engine {
    /// The device's measured copy bandwidth in bytes/s (read + write counted: 2 × buffer size per
    /// copy), from clEnqueueCopyBuffer of `megabytes` MiB, median of `repeats` after warm-up.
    /// nil on the CPU reference.
    public func measuredCopyBandwidth(megabytes: Int = 256, repeats: Int = 10) throws -> Double? {
        guard case .openCL(let context) = backend else { return nil }
        let count = megabytes << 18 // floats
        let source = try Buffer<Float>(context: context, count: count)
        let destination = try Buffer<Float>(context: context, count: count)
        try source.fill(1)
        let seconds = try Stopwatch.median(warmup: 2, repeats: repeats) {
            Double(try source.copy(to: destination).elapsedNanoseconds()) * 1e-9
        }
        return Double(2 * source.byteCount) / seconds
    }
}
