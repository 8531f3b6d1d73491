import REGNumPy

/// The output files of one command: checked right after parsing, before the computation, so a
/// bad path costs no work; written together at the end, all of them or, when one fails, none.
struct OutputFiles {
    /// Checks each given path (nil: an output option left out) and arms the cleanup of temporary
    /// files on SIGINT and SIGTERM.
    init(_ paths: String?...) throws(NumPyError) {
        Self.installInterruptCleanup()
        for path in paths.compactMap({ $0 }) { _ = try OutputTarget(path: path) }
    }

    /// Removes temporary files on SIGINT, SIGTERM and SIGHUP, then dies of the signal. `init`
    /// arms it too; calling it first thing in `main` covers the whole run. Idempotent.
    static func installInterruptCleanup() {
        TemporaryFiles.installInterruptCleanup()
    }

    /// Writes the arrays to their paths (checked again: the computation may have taken a while).
    func write(_ files: [(path: String, array: NumPyArray)]) throws(NumPyError) {
        try NumPyOutput.write(files)
    }

    func write(_ array: NumPyArray, to path: String) throws(NumPyError) {
        try write([(path, array)])
    }
}
