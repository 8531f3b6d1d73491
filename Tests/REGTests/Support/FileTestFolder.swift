import Foundation

/// A scratch folder for tests of file handling, removed with everything in it at the end.
final class FileTestFolder {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("reg-files-\(UUID().uuidString)")

    init() throws { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }

    deinit {
        // Read-only files and folders would stop the removal.
        let all = FileManager.default.enumerator(atPath: url.path)?.compactMap { $0 as? String } ?? []
        for name in all { chmod(path(name), 0o755) }
        try? FileManager.default.removeItem(at: url)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Names in the folder, hidden ones included.
    var names: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted() }

    /// Leftover temporary files of the writer.
    var temporaries: [String] { names.filter { $0.contains(".reg-tmp-") } }

    func bytes(_ name: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path(name))) }
}
