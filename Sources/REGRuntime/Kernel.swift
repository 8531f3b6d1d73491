import COpenCL

/// One kernel of a built program. Not thread-safe (clSetKernelArg is not): each routine owns its
/// kernels and uses them from one thread at a time.
public final class Kernel {
    let handle: cl_kernel
    public let name: String
    /// Strong, and through it the context: a kernel stays usable as long as it is held.
    public let program: Program
    var context: DeviceContext { program.context }

    init(handle: cl_kernel, name: String, program: Program) {
        self.handle = handle
        self.name = name
        self.program = program
    }

    deinit { _ = regclReleaseKernel(handle) }

    /// The largest work-group size this kernel can be launched with on its device.
    public var maxWorkGroupSize: Int {
        get throws(OpenCLError) {
            var size = 0
            try check(regclGetKernelWorkGroupInfo(handle, context.device.id,
                                                  cl_kernel_work_group_info(CL_KERNEL_WORK_GROUP_SIZE),
                                                  MemoryLayout<Int>.size, &size, nil),
                      "clGetKernelWorkGroupInfo(\(name))")
            return size
        }
    }

    public func setArgument<T: BitwiseCopyable>(_ index: Int, _ buffer: Buffer<T>) throws(OpenCLError) {
        var memory: cl_mem? = buffer.handle
        try check(regclSetKernelArg(handle, cl_uint(index), MemoryLayout<cl_mem>.size, &memory),
                  "clSetKernelArg(\(name), \(index))")
    }

    public func setArgument<T: BitwiseCopyable>(_ index: Int, value: T) throws(OpenCLError) {
        var copy = value
        try check(regclSetKernelArg(handle, cl_uint(index), MemoryLayout<T>.size, &copy),
                  "clSetKernelArg(\(name), \(index))")
    }

    /// Reserves `bytes` of local memory for a `__local` pointer argument.
    public func setLocalArgument(_ index: Int, bytes: Int) throws(OpenCLError) {
        try check(regclSetKernelArg(handle, cl_uint(index), bytes, nil), "clSetKernelArg(\(name), \(index))")
    }

    /// Queues the kernel over `global` work-items in groups of `local` (nil: the driver chooses).
    /// Every global size must be a multiple of its local size (OpenCL 1.2).
    @discardableResult
    public func launch(global: [Int], local: [Int]?) throws(OpenCLError) -> Event {
        precondition((1...3).contains(global.count) && (local == nil || local!.count == global.count))
        var event: cl_event?
        let status = global.withUnsafeBufferPointer { g in
            if let local {
                return local.withUnsafeBufferPointer { l in
                    regclEnqueueNDRangeKernel(context.queue, handle, cl_uint(global.count),
                                              g.baseAddress, l.baseAddress, &event)
                }
            }
            return regclEnqueueNDRangeKernel(context.queue, handle, cl_uint(global.count),
                                             g.baseAddress, nil, &event)
        }
        try check(status, "clEnqueueNDRangeKernel(\(name), global: \(global), local: \(local.map { "\($0)" } ?? "auto"))")
        return Event(event!)
    }
}

/// A queued command's completion and profiling times.
public final class Event: @unchecked Sendable {
    let handle: cl_event

    init(_ handle: cl_event) { self.handle = handle }
    deinit { _ = regclReleaseEvent(handle) }

    public func wait() throws(OpenCLError) {
        try check(regclWaitForEvent(handle), "clWaitForEvents")
    }

    /// Device time from the command's start to its end, in nanoseconds (waits for completion).
    public func elapsedNanoseconds() throws(OpenCLError) -> UInt64 {
        try wait()
        var start: cl_ulong = 0
        var end: cl_ulong = 0
        try check(regclGetEventProfilingInfo(handle, cl_profiling_info(CL_PROFILING_COMMAND_START),
                                             MemoryLayout<cl_ulong>.size, &start, nil), "clGetEventProfilingInfo")
        try check(regclGetEventProfilingInfo(handle, cl_profiling_info(CL_PROFILING_COMMAND_END),
                                             MemoryLayout<cl_ulong>.size, &end, nil), "clGetEventProfilingInfo")
        return end >= start ? end - start : 0
    }
}

/// Sets a kernel's arguments in order, index by index: every routine sets its arguments through
/// this, so the order written in Swift is the order of the kernel's parameter list.
public struct KernelArguments {
    public let kernel: Kernel
    public private(set) var index = 0

    public init(_ kernel: Kernel) { self.kernel = kernel }

    public mutating func buffer<T>(_ buffer: Buffer<T>) throws(OpenCLError) {
        try kernel.setArgument(index, buffer)
        index += 1
    }

    public mutating func value<T: BitwiseCopyable>(_ value: T) throws(OpenCLError) {
        try kernel.setArgument(index, value: value)
        index += 1
    }

    /// Reserves `bytes` of local memory for a `__local` pointer parameter.
    public mutating func local(_ bytes: Int) throws(OpenCLError) {
        try kernel.setLocalArgument(index, bytes: bytes)
        index += 1
    }
}
