import REGRuntime

/// The OpenCL routine of the refinement: Kernels/refinement.cl, one work-item per element.
final class RefinementRoutine: DeviceRoutine {
    private let context: DeviceContext
    private let kernel: Kernel
    private let workGroupSize: Int

    init(context: DeviceContext, configuration: Engine.Configuration) throws(OpenCLError) {
        self.context = context
        let program = try context.program(source: KernelSources.program("refinement"),
                                          options: configuration.buildOptions)
        kernel = try program.kernel("refine")
        workGroupSize = try configuration.workGroupSize(for: kernel)
    }

    func refine(distances: [Float], _ refinement: Refinement) throws -> [Float] {
        guard !distances.isEmpty else { return [] }
        let input = try Buffer(context: context, copying: distances)
        let output = try Buffer<Float>(context: context, count: distances.count)
        let nanFound = try launch(input: input, output: output, refinement)
        if try nanFound.read()[0] != 0 {
            guard let i = distances.firstIndex(where: \.isNaN) else {
                throw DeviceFault("the refinement kernel flagged a NaN distance that the host does not find")
            }
            throw InvalidArgument("distances", index: [i], "is NaN")
        }
        return try output.read()
    }

    /// Kernel time alone, with the data already on the device (for the benchmark).
    func kernelSeconds(input: Buffer<Float>, output: Buffer<Float>, _ refinement: Refinement) throws -> Double {
        let event = try launchEvent(input: input, output: output, nanFound: try Buffer<Int32>(context: context, copying: [0]),
                                    refinement)
        return Double(try event.elapsedNanoseconds()) * 1e-9
    }

    private func launch(input: Buffer<Float>, output: Buffer<Float>, _ refinement: Refinement) throws -> Buffer<Int32> {
        let nanFound = try Buffer<Int32>(context: context, copying: [0])
        _ = try launchEvent(input: input, output: output, nanFound: nanFound, refinement)
        return nanFound
    }

    private func launchEvent(input: Buffer<Float>, output: Buffer<Float>, nanFound: Buffer<Int32>,
                             _ refinement: Refinement) throws -> Event {
        try kernel.setArgument(0, input)
        try kernel.setArgument(1, output)
        try kernel.setArgument(2, value: UInt64(input.count))
        try kernel.setArgument(3, value: refinement.beta)
        try kernel.setArgument(4, value: refinement.delta)
        try kernel.setArgument(5, nanFound)
        return try kernel.launch(global: [LaunchShape.covering(count: input.count, workGroupSize: workGroupSize)],
                                 local: [workGroupSize])
    }
}
