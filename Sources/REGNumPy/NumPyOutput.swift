import Foundation

/// Writes `.npy` files all together: every output is staged (temporary files written and flushed,
/// devices and FIFOs written), and only then are the temporary files renamed over their targets.
/// When one output fails, the others' temporary files are removed and no target changes (a
/// device already written to cannot be taken back, so devices come after every temporary file).
public enum NumPyOutput {
    /// Writes each array to its path. Errors name the path.
    public static func write(_ files: [(path: String, array: NumPyArray)]) throws(NumPyError) {
        try write(files, chunkLimit: FileSink.maxChunk)
    }

    /// `chunkLimit` caps the bytes of one `write` call (tests make it tiny).
    static func write(_ files: [(path: String, array: NumPyArray)], chunkLimit: Int) throws(NumPyError) {
        let targets = try files.map { file throws(NumPyError) in try OutputTarget(path: file.path) }
        // Atomic outputs first, in the order given (a path given twice ends with the last array).
        let order = files.indices.filter { targets[$0].isAtomic } + files.indices.filter { !targets[$0].isAtomic }
        var staged: [OutputFile] = []
        defer { for output in staged { output.discard() } } // no-op for committed ones
        for index in order {
            let output = try OutputFile(targets[index], chunkLimit: chunkLimit)
            staged.append(output)
            try output.write(files[index].array)
            try output.finish()
        }
        for output in staged { try output.commit() }
    }
}

extension NumPyArray {
    /// Writes the array as a `.npy` file: a regular file is replaced atomically, a symlink's target
    /// is written, a device or FIFO is written in place; folders and read-only files are refused.
    /// Errors name the file.
    public func write(to url: URL) throws(NumPyError) {
        try NumPyOutput.write([(url.path, self)])
    }
}
