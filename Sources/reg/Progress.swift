import Foundation

/// A one-line progress message on standard error, only when standard error is a terminal (so
/// redirected output and `--json` pipelines stay clean).
struct Progress {
    let enabled = isatty(2) != 0

    func show(_ message: String) {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(message)".utf8))
    }

    func clear() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}

/// Writes a line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
