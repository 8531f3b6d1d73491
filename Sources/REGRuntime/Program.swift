import COpenCL

/// A built OpenCL program. Build failures throw `OpenCLError` with the compiler's log.
public final class Program: @unchecked Sendable {
    let handle: cl_program
    unowned let context: DeviceContext
    public let options: String

    init(context: DeviceContext, source: String, options: String) throws(OpenCLError) {
        var status: cl_int = 0
        let created = source.withCString { text in
            regclCreateProgramWithSource(context.context, text, source.utf8.count, &status)
        }
        guard let handle = created, status == CL_SUCCESS else {
            throw OpenCLError(code: status, call: "clCreateProgramWithSource")
        }
        let built = regclBuildProgram(handle, context.device.id, options)
        if built != CL_SUCCESS {
            let log = Self.buildLog(handle, device: context.device.id)
            _ = regclReleaseProgram(handle)
            throw OpenCLError(code: built, call: "clBuildProgram(options: \"\(options)\")", buildLog: log)
        }
        self.handle = handle
        self.context = context
        self.options = options
    }

    deinit { _ = regclReleaseProgram(handle) }

    /// A new kernel object for the function `name` of this program.
    public func kernel(_ name: String) throws(OpenCLError) -> Kernel {
        var status: cl_int = 0
        guard let kernel = regclCreateKernel(handle, name, &status), status == CL_SUCCESS else {
            throw OpenCLError(code: status, call: "clCreateKernel(\(name))")
        }
        return Kernel(handle: kernel, name: name, program: self)
    }

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
