import COpenCL

/// A failed OpenCL call: its status code and name, the entry point that failed, and the compiler's
/// build log when the failure was a program build.
public struct OpenCLError: Error, CustomStringConvertible, Sendable, Equatable {
    public let code: Int32
    public let name: String
    /// The OpenCL entry point (or REG step) that failed, e.g. "clBuildProgram".
    public let call: String
    /// The device compiler's log for build failures; nil otherwise.
    public let buildLog: String?

    public init(code: Int32, call: String, buildLog: String? = nil) {
        self.code = code
        self.name = String(cString: regcl_error_name(code))
        self.call = call
        self.buildLog = buildLog
    }

    public var description: String {
        var text = "\(call) failed with \(name) (\(code))"
        if let buildLog, !buildLog.isEmpty { text += "\nbuild log:\n\(buildLog)" }
        return text
    }

    /// The name OpenCL gives a status code, e.g. -30 → "CL_INVALID_VALUE".
    public static func name(of code: Int32) -> String { String(cString: regcl_error_name(code)) }
}

/// Throws `OpenCLError` unless `status` is CL_SUCCESS. The one place status codes become errors.
@inline(__always)
func check(_ status: cl_int, _ call: @autoclosure () -> String) throws(OpenCLError) {
    if status != CL_SUCCESS { throw OpenCLError(code: status, call: call()) }
}

extension OpenCLError {
    /// Whether this is a program that does not build on its device (compile error, bad build
    /// options, unusable binary), rather than a failure while running.
    public var isBuildFailure: Bool {
        [CL_BUILD_PROGRAM_FAILURE, CL_INVALID_BUILD_OPTIONS, CL_INVALID_BINARY, CL_COMPILER_NOT_AVAILABLE,
         CL_INVALID_PROGRAM_EXECUTABLE].contains(code) || buildLog != nil
    }
}
