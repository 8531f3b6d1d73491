/// Repeats a measurement after warm-up runs and reports the median.
public enum Stopwatch {
    /// Runs `body` `warmup` times untimed, then `repeats` times; returns the median of what `body`
    /// returns (seconds it measured itself, e.g. from profiling events).
    public static func median(warmup: Int = 2, repeats: Int, _ body: () throws -> Double) rethrows -> Double {
        for _ in 0..<warmup { _ = try body() }
        var samples: [Double] = []
        for _ in 0..<max(repeats, 1) { samples.append(try body()) }
        samples.sort()
        let n = samples.count
        return n % 2 == 1 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2
    }

    /// Wall-clock seconds taken by `body`.
    public static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try body()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }
}
