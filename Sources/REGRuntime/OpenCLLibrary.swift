import COpenCL

/// The OpenCL loader (libOpenCL.so.1), opened at run time on first use.
public enum OpenCLLibrary {
    /// nil when the library and all its entry points were found; otherwise why not.
    public static let loadFailure: String? = {
        var message = [CChar](repeating: 0, count: 512)
        let status = regcl_load(&message, message.count)
        if status == 0 { return nil }
        return String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    public static var isLoaded: Bool { loadFailure == nil }
}
