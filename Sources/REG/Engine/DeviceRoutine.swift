import REGRuntime

/// The OpenCL side of one operation, in one shape for every operation (as CLBlast's routines):
///
/// - `prepare` uploads a problem and allocates every buffer one evaluation writes;
/// - `enqueue` queues every kernel of one evaluation and returns their profiling events;
/// - `results` reads the outputs back and turns what the kernels flagged into errors.
///
/// `evaluate` (what the engine calls) and `kernelSeconds` (what `reg bench` times, with the data
/// already on the device) are written once, here. A routine owns its `Kernel`s, whose arguments are
/// not thread-safe to set: the engine serialises its calls.
package protocol DeviceRoutine: AnyObject {
    associatedtype Problem
    associatedtype Prepared
    associatedtype Output

    init(context: DeviceContext, configuration: Engine.Configuration) throws(OpenCLError)
    func prepare(_ problem: Problem) throws -> Prepared
    func enqueue(_ prepared: Prepared) throws -> [Event]
    func results(_ prepared: Prepared) throws -> Output
}

extension DeviceRoutine {
    /// One evaluation: upload, kernels, read-back.
    package func evaluate(_ problem: Problem) throws -> Output {
        let prepared = try prepare(problem)
        _ = try enqueue(prepared)
        return try results(prepared)
    }

    /// The device time of the kernels of one evaluation of `prepared` (its inputs already on the
    /// device), from profiling events.
    package func kernelSeconds(_ prepared: Prepared) throws -> Double {
        var nanoseconds: UInt64 = 0
        for event in try enqueue(prepared) { nanoseconds += try event.elapsedNanoseconds() }
        return Double(nanoseconds) * 1e-9
    }
}

extension Engine.Configuration {
    /// The 1-D work-group size for `kernel`: the configured size (default 256), clamped to what
    /// the kernel allows on its device.
    func workGroupSize(for kernel: Kernel) throws(OpenCLError) -> Int {
        max(1, min(workGroupSize ?? 256, try kernel.maxWorkGroupSize))
    }
}
