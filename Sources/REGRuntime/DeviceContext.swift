import COpenCL
import Synchronization

/// An OpenCL context on one device with its in-order, profiling-enabled command queue, and the
/// programs built for it.
///
/// `@unchecked Sendable`: OpenCL contexts, queues and programs are thread-safe objects; the program
/// cache is guarded by a mutex. Kernels (whose argument setting is not thread-safe) are not kept
/// here: each routine owns its own.
public final class DeviceContext: @unchecked Sendable {
    public let device: Device
    let context: cl_context
    let queue: cl_command_queue
    private let programs = Mutex<[ProgramKey: ProgramBinary]>([:])

    public init(device: Device) throws(OpenCLError) {
        self.device = device
        var status: cl_int = 0
        guard let context = regclCreateContext(device.id, &status), status == CL_SUCCESS else {
            throw OpenCLError(code: status, call: "clCreateContext")
        }
        let properties = cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE)
        guard let queue = regclCreateCommandQueue(context, device.id, properties, &status),
              status == CL_SUCCESS
        else {
            _ = regclReleaseContext(context)
            throw OpenCLError(code: status, call: "clCreateCommandQueue")
        }
        self.context = context
        self.queue = queue
    }

    deinit {
        programs.withLock { $0.removeAll() }
        _ = regclReleaseCommandQueue(queue)
        _ = regclReleaseContext(context)
    }

    /// The program for `source` built with `options`, from the cache when this source, these
    /// options, this device and this driver version were built before.
    public func program(source: String, options: String = "") throws(OpenCLError) -> Program {
        let key = ProgramKey(source: source, options: options, device: device.name,
                             driverVersion: device.driverVersion)
        if let cached = programs.withLock({ $0[key] }) { return Program(binary: cached, context: self) }
        let built = try ProgramBinary(context: context, device: device.id, source: source, options: options)
        let binary = programs.withLock { cache in
            if let raced = cache[key] { return raced }
            cache[key] = built
            return built
        }
        return Program(binary: binary, context: self)
    }

    /// Number of programs built so far (for tests of the cache).
    public var cachedProgramCount: Int { programs.withLock { $0.count } }

    /// Waits until every command queued so far has finished.
    public func finish() throws(OpenCLError) {
        try check(regclFinish(queue), "clFinish")
    }
}

struct ProgramKey: Hashable {
    let source: String
    let options: String
    let device: String
    let driverVersion: String
}
