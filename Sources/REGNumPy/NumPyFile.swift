import Foundation

/// The `.npy` format, versions 1.0 to 3.0: the magic `\x93NUMPY`, a version, the header length
/// (2 bytes in 1.0, 4 bytes after), the header dict (Latin-1 up to 2.0, UTF-8 in 3.0), then the
/// raw values. See numpy/lib/format.py for the format's own description.
extension NumPyArray {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] // \x93NUMPY
    /// NumPy aligns the start of the data to 64 bytes.
    static let alignment = 64

    /// Reads a `.npy` file to its end: a regular file, a FIFO or a device. Errors name the file.
    public init(contentsOf url: URL) throws(NumPyError) {
        try self.init(npy: try FileInput.contents(ofPath: url.path), source: url.path)
    }

    /// Reads a `.npy` file from an open descriptor (standard input: 0) to its end; `source` names
    /// it in errors.
    public init(fileDescriptor: Int32, source: String) throws(NumPyError) {
        try self.init(npy: try FileInput.contents(of: fileDescriptor, source: source), source: source)
    }

    /// Decodes the bytes of a `.npy` file; `source` names them in errors. Fortran-order and
    /// big-endian arrays come back in C order and native values.
    public init(npy data: Data, source: String? = nil) throws(NumPyError) {
        // Only the prefix and the header are copied; the values are decoded straight from `data`.
        let bytes = [UInt8](data.prefix(12))
        let total = data.count
        func fail(_ kind: NumPyError.Kind, _ reason: String) -> NumPyError { NumPyError(kind, file: source, reason) }

        guard bytes.count >= 8 else {
            throw fail(bytes.starts(with: Self.magic.prefix(bytes.count)) ? .truncated : .badMagic,
                       "file is \(total) bytes, too short for a .npy header")
        }
        guard bytes.starts(with: Self.magic) else { throw fail(.badMagic, "not a .npy file (no \\x93NUMPY magic)") }
        let (major, minor) = (bytes[6], bytes[7])
        let lengthBytes: Int
        switch (major, minor) {
        case (1, 0): lengthBytes = 2
        case (2, 0), (3, 0): lengthBytes = 4
        default: throw fail(.unsupportedVersion, "format version \(major).\(minor) is not supported (1.0, 2.0, 3.0)")
        }
        guard bytes.count >= 8 + lengthBytes else { throw fail(.truncated, "file ends inside the header length") }
        let headerLength = (0..<lengthBytes).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
        let dataOffset = 8 + lengthBytes + headerLength
        guard total >= dataOffset else {
            throw fail(.truncated, "header is \(headerLength) bytes but the file ends after \(total - 8 - lengthBytes)")
        }
        let headerBytes = [UInt8](data.dropFirst(8 + lengthBytes).prefix(headerLength))
        let text: String
        if major == 3 {
            guard let utf8 = String(bytes: headerBytes, encoding: .utf8) else { throw fail(.badHeader, "header is not valid UTF-8") }
            text = utf8
        } else {
            text = String(String.UnicodeScalarView(headerBytes.map { Unicode.Scalar($0) })) // Latin-1
        }
        let header = try NumPyHeader(parsing: text, file: source)

        let count = try Self.elementCount(header.shape, itemSize: header.dtype.itemSize, file: source)
        let expected = count * header.dtype.itemSize
        let available = total - dataOffset
        guard available >= expected else {
            throw fail(.truncated, "data is truncated: shape \(NumPyHeader.tuple(header.shape)) of \(header.dtype.name) needs \(expected) bytes, the file has \(available)")
        }
        guard available == expected else {
            throw fail(.shapeMismatch, "\(available - expected) bytes after the data of shape \(NumPyHeader.tuple(header.shape)) of \(header.dtype.name)")
        }

        var storage = data.withUnsafeBytes { raw in
            Self.decode(UnsafeRawBufferPointer(rebasing: raw[dataOffset...]), header.dtype, count: count,
                        bigEndian: header.bigEndian)
        }
        if header.fortranOrder && header.shape.count > 1 {
            storage = storage.reorderedFromFortran(shape: header.shape)
        }
        try self.init(shape: header.shape, storage: storage, source: source)
    }

    /// The `.npy` bytes: version 1.0 when the header fits in 65535 bytes, else 2.0; little-endian,
    /// C order; byte for byte what `numpy.save` writes for the same array.
    public func npyData() -> Data {
        var out = Data(npyHeader())
        withValueBytes { (bytes: UnsafeRawBufferPointer) in out.append(contentsOf: bytes) }
        return out
    }

    /// The bytes before the values: magic, version, header length, the header dict padded so that
    /// the values start 64-aligned.
    func npyHeader() -> [UInt8] {
        let header = Array(NumPyHeader(dtype: dtype, shape: shape).text.utf8)
        // Header length counts the padding and the final newline; the data starts 64-aligned.
        func padded(prefix: Int) -> Int {
            let unpadded = prefix + header.count + 1
            return header.count + 1 + (Self.alignment - unpadded % Self.alignment)
        }
        var version: UInt8 = 1
        var length = padded(prefix: 10)
        if length > Int(UInt16.max) {
            version = 2
            length = padded(prefix: 12)
        }
        var out = Self.magic + [version, 0]
        for byte in 0..<(version == 1 ? 2 : 4) { out.append(UInt8(truncatingIfNeeded: length >> (8 * byte))) }
        out += header
        out += [UInt8](repeating: 0x20, count: length - header.count - 1)
        out.append(0x0A)
        return out
    }

    /// Hands `body` the values as little-endian bytes: the array's own memory where it already
    /// is that, else converted pieces, so writing a large array needs no second copy of it.
    func withValueBytes<E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> Void) throws(E) {
        switch storage {
        case .float16(let v): try Self.littleEndian(v, { $0.bitPattern }, body)
        case .float32(let v): try Self.littleEndian(v, { $0.bitPattern }, body)
        case .float64(let v): try Self.littleEndian(v, { $0.bitPattern }, body)
        case .int32(let v): try Self.littleEndian(v, { $0 }, body)
        case .int64(let v): try Self.littleEndian(v, { $0 }, body)
        case .uint8(let v): try Self.littleEndian(v, { $0 }, body)
        case .bool(let v): try Self.pieces(v, { UInt8($0 ? 1 : 0) }, body)
        }
    }

    /// `values` whose memory is `word(value)` in native order: passed as they are on a
    /// little-endian machine, converted on a big-endian one.
    private static func littleEndian<T, W: FixedWidthInteger, E: Error>(
        _ values: [T], _ word: (T) -> W, _ body: (UnsafeRawBufferPointer) throws(E) -> Void
    ) throws(E) {
        #if _endian(little)
        let result: Result<Void, E> = values.withUnsafeBytes { raw in Result { () throws(E) in try body(raw) } }
        try result.get()
        #else
        try pieces(values, word, body)
        #endif
    }

    /// `values` converted to little-endian words a megabyte or so at a time.
    private static func pieces<T, W: FixedWidthInteger, E: Error>(
        _ values: [T], _ word: (T) -> W, _ body: (UnsafeRawBufferPointer) throws(E) -> Void
    ) throws(E) {
        let step = max(1, (1 << 20) / MemoryLayout<W>.size)
        for start in stride(from: 0, to: values.count, by: step) {
            let words = values[start..<min(start + step, values.count)].map { word($0).littleEndian }
            let result: Result<Void, E> = words.withUnsafeBytes { raw in Result { () throws(E) in try body(raw) } }
            try result.get()
        }
    }

    private static func decode(_ raw: UnsafeRawBufferPointer, _ dtype: NumPyDType, count: Int, bigEndian: Bool) -> Storage {
        func words<T: FixedWidthInteger>(_: T.Type) -> [T] {
            (0..<count).map { i in
                let stored = raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)
                return bigEndian ? T(bigEndian: stored) : T(littleEndian: stored)
            }
        }
        switch dtype {
        case .float16: return .float16(words(UInt16.self).map(Float16.init(bitPattern:)))
        case .float32: return .float32(words(UInt32.self).map(Float.init(bitPattern:)))
        case .float64: return .float64(words(UInt64.self).map(Double.init(bitPattern:)))
        case .int32: return .int32(words(Int32.self))
        case .int64: return .int64(words(Int64.self))
        case .uint8: return .uint8(Array(raw.prefix(count)))
        case .bool: return .bool(raw.prefix(count).map { $0 != 0 })
        }
    }
}

extension NumPyArray.Storage {
    /// The same values moved from Fortran (column-major) to C (row-major) order.
    func reorderedFromFortran(shape: [Int]) -> Self {
        switch self {
        case .float16(let v): .float16(Self.cOrder(v, shape))
        case .float32(let v): .float32(Self.cOrder(v, shape))
        case .float64(let v): .float64(Self.cOrder(v, shape))
        case .uint8(let v): .uint8(Self.cOrder(v, shape))
        case .bool(let v): .bool(Self.cOrder(v, shape))
        case .int32(let v): .int32(Self.cOrder(v, shape))
        case .int64(let v): .int64(Self.cOrder(v, shape))
        }
    }

    private static func cOrder<T>(_ fortran: [T], _ shape: [Int]) -> [T] {
        guard !fortran.isEmpty else { return fortran }
        // Fortran stride of axis k: the product of the sizes before it.
        var strides = [Int](repeating: 1, count: shape.count)
        for axis in shape.indices.dropFirst() { strides[axis] = strides[axis - 1] * shape[axis - 1] }
        var result: [T] = []
        result.reserveCapacity(fortran.count)
        var index = [Int](repeating: 0, count: shape.count)
        var offset = 0
        for _ in 0..<fortran.count {
            result.append(fortran[offset])
            // Advance the C-order index (last axis fastest), keeping the Fortran offset in step.
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                offset += strides[axis]
                if index[axis] < shape[axis] { break }
                offset -= strides[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return result
    }
}
