import COpenCL

/// A built OpenCL program on one context. Build failures throw `OpenCLError` with the compiler's
/// log.
///
/// Holds its context strongly, so a program (and the kernels made from it) stays usable however
/// long the caller keeps it. The context's cache holds only the compiled `ProgramBinary`, which
/// does not refer back to the context: no reference cycle.
public final class Program: @unchecked Sendable {
    let binary: ProgramBinary
    public let context: DeviceContext
    public var options: String { binary.options }

    init(binary: ProgramBinary, context: DeviceContext) {
        self.binary = binary
        self.context = context
    }

    /// A new kernel object for the function `name` of this program.
    public func kernel(_ name: String) throws(OpenCLError) -> Kernel {
        var status: cl_int = 0
        guard let kernel = regclCreateKernel(binary.handle, name, &status), status == CL_SUCCESS else {
            throw OpenCLError(code: status, call: "clCreateKernel(\(name))")
        }
        return Kernel(handle: kernel, name: name, program: self)
    }
}

/// The compiled `cl_program` handle, released in deinit. What `DeviceContext` caches.
///
/// `@unchecked Sendable`: a built cl_program is immutable and OpenCL programs are thread-safe
/// objects (only kernels are not).
final class ProgramBinary: @unchecked Sendable {
    let handle: cl_program
    let options: String

    init(context: cl_context, device: cl_device_id, source: String, options: String) throws(OpenCLError) {
        var status: cl_int = 0
        let created = source.withCString { text in
            regclCreateProgramWithSource(context, text, source.utf8.count, &status)
        }
        guard let handle = created, status == CL_SUCCESS else {
            throw OpenCLError(code: status, call: "clCreateProgramWithSource")
        }
        let built = regclBuildProgram(handle, device, options)
        if built != CL_SUCCESS {
            let log = Self.buildLog(handle, device: device)
            _ = regclReleaseProgram(handle)
            throw OpenCLError(code: built, call: "clBuildProgram(options: \"\(options)\")", buildLog: log)
        }
        self.handle = handle
        self.options = options
    }

    deinit { _ = regclReleaseProgram(handle) }

    private static func buildLog(_ program: cl_program, device: cl_device_id) -> String {
        var size = 0
        let info = cl_program_build_info(CL_PROGRAM_BUILD_LOG)
        guard regclGetProgramBuildInfo(program, device, info, 0, nil, &size) == CL_SUCCESS, size > 0 else {
            return ""
        }
        var bytes = [UInt8](repeating: 0, count: size)
        guard regclGetProgramBuildInfo(program, device, info, size, &bytes, nil) == CL_SUCCESS else { return "" }
        return decodeCString(bytes)
    }
}
