import Foundation

/// Writes bytes that are not an array (a PNG picture, say) with the same semantics as `.npy`
/// outputs: a regular file is replaced atomically, a symlink's target is written, a device or FIFO
/// is written in place; folders and read-only files are refused. Errors name the file.
public enum ByteOutput {
    public static func write(_ bytes: some ContiguousBytes, to path: String) throws(NumPyError) {
        let output = try OutputFile(try OutputTarget(path: path))
        // withUnsafeBytes rethrows untyped: keep the typed error through a Result.
        let written = bytes.withUnsafeBytes { raw in Result { () throws(NumPyError) in try output.writeBytes(raw) } }
        try written.get()
        try output.finish()
        try output.commit()
    }
}

extension OutputFile {
    /// Appends raw bytes (a whole file's worth, through the write loop).
    func writeBytes(_ bytes: UnsafeRawBufferPointer) throws(NumPyError) {
        try sink.writeAll(bytes)
    }
}
