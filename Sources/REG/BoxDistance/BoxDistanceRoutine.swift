import REGRuntime

/// The OpenCL routine of the point-to-box distances: Kernels/box_distance.cl, one grid-stride
/// launch over the N·C outputs, on boxes the host sorted by (image, class) with CSR offsets.
final class BoxDistanceRoutine: DeviceRoutine {
    private let context: DeviceContext
    private let kernel: Kernel
    private let workGroupSize: Int

    init(context: DeviceContext, configuration: Engine.Configuration) throws(OpenCLError) {
        self.context = context
        let program = try context.program(source: KernelSources.program("box_distance"),
                                          options: configuration.buildOptions)
        kernel = try program.kernel("box_distance")
        workGroupSize = try configuration.workGroupSize(for: kernel)
    }

    /// The device's inputs, uploaded.
    struct Inputs {
        let points: Buffer<Float>
        let groups: Buffer<Int32>
        let boxes: Buffer<Float>
        let offsets: Buffer<Int32>
        let count: Int
        let classes: Int
    }

    func upload(_ problem: BoxDistanceProblem) throws -> Inputs {
        let grouped = problem.grouped()
        return Inputs(points: try Buffer(context: context, copying: grouped.pointXY),
                      groups: try Buffer(context: context, copying: grouped.pointGroup),
                      boxes: try Buffer(context: context, copying: grouped.boxCorners),
                      offsets: try Buffer(context: context, copying: grouped.offsets),
                      count: problem.points.count, classes: problem.classes)
    }

    func boxDistances(_ problem: BoxDistanceProblem) throws -> [Float] {
        guard problem.outputCount > 0 else { return [] }
        let inputs = try upload(problem)
        let output = try Buffer<Float>(context: context, count: problem.outputCount)
        try launch(inputs, output: output)
        return try output.read()
    }

    /// Kernel time alone, with the data already on the device (for the benchmark).
    func kernelSeconds(_ inputs: Inputs, output: Buffer<Float>) throws -> Double {
        Double(try launch(inputs, output: output).elapsedNanoseconds()) * 1e-9
    }

    @discardableResult
    private func launch(_ inputs: Inputs, output: Buffer<Float>) throws -> Event {
        try kernel.setArgument(0, inputs.points)
        try kernel.setArgument(1, inputs.groups)
        try kernel.setArgument(2, inputs.boxes)
        try kernel.setArgument(3, inputs.offsets)
        try kernel.setArgument(4, value: UInt64(inputs.count))
        try kernel.setArgument(5, value: Int32(inputs.classes))
        try kernel.setArgument(6, output)
        let total = inputs.count * inputs.classes
        return try kernel.launch(global: [LaunchShape.gridStride(count: total, workGroupSize: workGroupSize)],
                                 local: [workGroupSize])
    }
}
