import Foundation
import ZIPFoundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A NumPy `.npz` archive: named arrays, each stored as the `.npy` member `<name>.npy` of a ZIP
/// file, as `np.savez` (stored members) and `np.savez_compressed` (deflated members) write them.
///
/// Reading takes both flavours; writing stores the members uncompressed, like `np.savez`, with a
/// fixed date so that the same arrays give the same bytes. The ZIP layer is ZIPFoundation's.
/// Errors name the archive and the member (`b.npz: member det_logits.npy: …`); an array read from
/// an archive names itself `b.npz:det_logits` in conversion errors.
public struct NumPyArchive: Equatable, Sendable {
    /// The arrays by name: the member's name without `.npy`.
    public var arrays: [String: NumPyArray]
    /// The archive's path, for error messages; not part of equality.
    public var source: String?

    public init(_ arrays: [String: NumPyArray] = [:], source: String? = nil) {
        self.arrays = arrays
        self.source = source
    }

    /// The names of the arrays, sorted.
    public var names: [String] { arrays.keys.sorted() }

    public subscript(name: String) -> NumPyArray? {
        get { arrays[name] }
        set { arrays[name] = newValue }
    }

    /// The array `name`, or an error naming the archive, the member and what the archive holds.
    public func array(_ name: String) throws(NumPyError) -> NumPyArray {
        guard let array = arrays[name] else {
            let held = names.isEmpty ? "no arrays" : names.joined(separator: ", ")
            throw NumPyError(.missingKey, file: source, "has no array '\(name)' (member \(name).npy); it holds \(held)")
        }
        return array
    }

    /// How an array of this archive is named in errors: `b.npz:name`.
    public static func memberSource(archive: String?, name: String) -> String {
        "\(archive ?? "npz data"):\(name)"
    }

    public static func == (a: NumPyArchive, b: NumPyArchive) -> Bool { a.arrays == b.arrays }

    // MARK: Reading

    /// Reads a `.npz` file: a regular file is read member by member; a FIFO or a device is read to
    /// its end first. Errors name the file.
    public init(contentsOf url: URL) throws(NumPyError) {
        let path = url.path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw NumPyError(.io, file: path, "cannot read: \(systemReason(errno))") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw NumPyError(.io, file: path, "cannot read: \(systemReason(errno))") }
        guard status.st_mode & S_IFMT == S_IFREG else {
            try self.init(npz: try FileInput.contents(of: descriptor, source: path), source: path)
            return
        }
        let size = Int(status.st_size)
        let tail = try Self.readTail(descriptor, size: size, source: path)
        try self.init(zipAt: url, size: size, tail: tail, source: path)
    }

    /// Reads a `.npz` archive from an open descriptor (standard input: 0) to its end; `source`
    /// names it in errors.
    public init(fileDescriptor: Int32, source: String) throws(NumPyError) {
        try self.init(npz: try FileInput.contents(of: fileDescriptor, source: source), source: source)
    }

    /// Decodes the bytes of a `.npz` archive; `source` names them in errors.
    public init(npz data: Data, source: String? = nil) throws(NumPyError) {
        // ZIPFoundation's in-memory archives trap on offsets past the end of the data (a corrupt
        // directory), its file-backed ones read short instead: the bytes go to an unlinked file.
        let scratch = try ScratchFile(data, source: source)
        defer { scratch.remove() }
        try self.init(zipAt: scratch.url, size: data.count, tail: [UInt8](data.suffix(Self.tailBytes)), source: source,
                      afterOpening: { scratch.remove() })
    }

    /// The end-of-central-directory record is in the last 22 + 65535 (comment) bytes.
    private static let tailBytes = 22 + 65535

    private init(zipAt url: URL, size: Int, tail: [UInt8], source: String?,
                 afterOpening: () -> Void = {}) throws(NumPyError) {
        func fail(_ kind: NumPyError.Kind, _ reason: String) -> NumPyError { NumPyError(kind, file: source, reason) }
        let archive: Archive
        do {
            archive = try Archive(url: url, accessMode: .read)
        } catch Archive.ArchiveError.missingEndOfCentralDirectoryRecord {
            throw fail(.badMagic, "not a .npz archive: no ZIP end-of-central-directory record (not a ZIP file, or truncated)")
        } catch {
            throw fail(.io, "cannot read: \(error)")
        }
        afterOpening()

        var arrays: [String: NumPyArray] = [:]
        var members = 0
        for entry in archive {
            members += 1
            let path = entry.path
            func member(_ kind: NumPyError.Kind, _ reason: String) -> NumPyError { fail(kind, "member \(path): \(reason)") }
            guard entry.type == .file else { throw member(.badHeader, "is a \(entry.type == .directory ? "folder" : "link"), not an array") }
            let name = path.hasSuffix(".npy") ? String(path.dropLast(4)) : path
            guard arrays[name] == nil else { throw member(.badHeader, "array '\(name)' appears twice in the archive") }
            // Sizes a corrupt directory may claim are bounded by the archive before anything is
            // allocated; deflate expands at most 1032 : 1.
            let stored = entry.compressedSize, expanded = entry.uncompressedSize
            guard stored <= UInt64(size) else {
                throw member(.truncated, "claims \(stored) bytes of data but the archive has \(size) bytes")
            }
            let most = entry.isCompressed ? 1032 * stored + 1024 : stored
            guard expanded <= most else {
                throw member(.badHeader, "claims \(expanded) bytes from \(stored) \(entry.isCompressed ? "compressed" : "stored") bytes")
            }
            var bytes = Data()
            bytes.reserveCapacity(Int(expanded))
            let checksum: CRC32
            do {
                checksum = try archive.extract(entry) { chunk in
                    guard bytes.count + chunk.count <= Int(expanded) else { throw Overflow() }
                    bytes.append(chunk)
                }
            } catch is Overflow {
                throw member(.badHeader, "holds more than the \(expanded) bytes the archive's directory gives it")
            } catch {
                throw member(.badHeader, "cannot be extracted (\(Self.describe(error)))")
            }
            guard bytes.count == Int(expanded) else {
                throw member(.truncated, "data is truncated: \(bytes.count) of \(expanded) bytes")
            }
            guard checksum == entry.checksum else { throw member(.badHeader, "CRC-32 mismatch: the data is corrupt") }
            var array: NumPyArray
            do {
                array = try NumPyArray(npy: bytes, source: nil)
            } catch {
                throw member(error.kind, error.reason)
            }
            array.source = Self.memberSource(archive: source, name: name)
            arrays[name] = array
        }
        // ZIPFoundation stops at the first directory record it cannot read: compare with the count
        // the end record gives (unknown for ZIP64, whose count is elsewhere).
        if let listed = Self.listedMembers(tail), listed != members {
            throw fail(.badHeader, "the ZIP directory lists \(listed) members but \(members) could be read: the archive is corrupt")
        }
        self.init(arrays, source: source)
    }

    private struct Overflow: Error {}

    /// The entry count of the end-of-central-directory record, found from the end as
    /// ZIPFoundation finds it; nil when absent or a ZIP64 placeholder.
    static func listedMembers(_ tail: [UInt8]) -> Int? {
        guard tail.count >= 22 else { return nil }
        for start in stride(from: tail.count - 22, through: 0, by: -1)
        where tail[start] == 0x50 && tail[start + 1] == 0x4B && tail[start + 2] == 0x05 && tail[start + 3] == 0x06 {
            let count = Int(tail[start + 10]) | Int(tail[start + 11]) << 8
            return count == 0xFFFF ? nil : count
        }
        return nil
    }

    private static func readTail(_ descriptor: Int32, size: Int, source: String) throws(NumPyError) -> [UInt8] {
        let length = min(size, tailBytes)
        var tail = [UInt8](repeating: 0, count: length)
        var filled = 0
        while filled < length {
            let got = tail.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + filled, length - filled, off_t(size - length + filled)) }
            if got < 0 {
                if errno == EINTR { continue }
                throw NumPyError(.io, file: source, "cannot read: \(systemReason(errno))")
            }
            if got == 0 { break }
            filled += got
        }
        return Array(tail.prefix(filled))
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case Archive.ArchiveError.invalidCompressionMethod: "an unsupported compression method; NumPy writes stored or deflated members"
        case Archive.ArchiveError.invalidLocalHeaderDataOffset, Archive.ArchiveError.invalidLocalHeaderSize:
            "a bad local header"
        case Archive.ArchiveError.invalidEntrySize: "a bad size"
        default:
            String(describing: error) == "corruptedData" || String(describing: error) == "invalidStream"
                ? "corrupt deflate data" : "\(error)"
        }
    }

    // MARK: Writing

    /// The archive's bytes: each array as the stored member `<name>.npy` (as `np.savez` writes
    /// them), in name order, dated 1980-01-01 so that the same arrays give the same bytes.
    public func npzData() throws(NumPyError) -> Data {
        func fail(_ reason: String) -> NumPyError { NumPyError(.io, file: source, "cannot write the archive: \(reason)") }
        if let bad = names.first(where: { $0.isEmpty || $0.contains("/") }) {
            throw NumPyError(.badHeader, file: source, "array name '\(bad)' cannot be a member name (empty, or with a '/')")
        }
        do {
            let archive = try Archive(accessMode: .create)
            for name in names {
                let bytes = arrays[name]!.npyData()
                try archive.addEntry(with: "\(name).npy", type: .file, uncompressedSize: Int64(bytes.count),
                                     modificationDate: Date(timeIntervalSince1970: 315_532_800),
                                     permissions: 0o644, compressionMethod: .none) { position, size in
                    bytes.subdata(in: Int(position)..<(Int(position) + size))
                }
            }
            guard let data = archive.data else { throw fail("no archive data") }
            return data
        } catch let error as NumPyError {
            throw error
        } catch {
            throw fail("\(error)")
        }
    }

    /// Writes the archive as `NumPyOutput` writes a `.npy` file: a regular file is replaced
    /// atomically, a symlink's target is written, a device or FIFO is written in place; folders
    /// and read-only files are refused. Errors name the file.
    public func write(to url: URL) throws(NumPyError) {
        try write(toPath: url.path)
    }

    public func write(toPath path: String) throws(NumPyError) {
        var archive = self
        archive.source = path
        try ByteOutput.write(try archive.npzData(), to: path)
    }
}

/// An unlinked-on-`remove` file holding bytes, for ZIPFoundation to read by path.
private final class ScratchFile {
    let url: URL
    private var slot: Int?
    private var path: String?

    init(_ data: Data, source: String?) throws(NumPyError) {
        let folder = FileManager.default.temporaryDirectory.path
        var template = Array("\(folder)/reg-npz-XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else {
            throw NumPyError(.io, file: source, "cannot create a scratch file in \(folder): \(systemReason(errno))")
        }
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.path = path
        url = URL(fileURLWithPath: path)
        slot = TemporaryFiles.remember(path)
        defer { close(descriptor) }
        let sink = FileSink(descriptor: descriptor, name: path)
        do {
            try sink.writeAll(data)
        } catch {
            remove()
            throw NumPyError(.io, file: source, "cannot stage the archive in \(folder): \(error.reason)")
        }
    }

    deinit { remove() }

    /// Unlinks the file; an open archive keeps reading it.
    func remove() {
        guard let path else { return }
        unlink(path)
        self.path = nil
        TemporaryFiles.forget(slot)
    }
}

/// Bytes written to one output with `NumPyOutput`'s guarantees: a temporary file
private extension FileSink {
    func writeAll(_ data: Data) throws(NumPyError) {
        let result = data.withUnsafeBytes { raw in Result { () throws(NumPyError) in try writeAll(raw) } }
        try result.get()
    }
}
