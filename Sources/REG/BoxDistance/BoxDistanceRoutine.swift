import REGRuntime

/// The OpenCL routine of the point-to-box distances: Kernels/box_distance.cl, one grid-stride
/// launch over the N·C outputs, on boxes the host sorted by (image, class) with CSR offsets.
package final class BoxDistanceRoutine: DeviceRoutine {
    package final class Prepared {
        let problem: BoxDistanceProblem
        let points: Buffer<Float>
        let groups: Buffer<Int32>
        let boxes: Buffer<Float>
        let offsets: Buffer<Int32>
        let distances: Buffer<Float>

        init(_ problem: BoxDistanceProblem, context: DeviceContext) throws(OpenCLError) {
            self.problem = problem
            let grouped = problem.grouped()
            points = try Buffer(context: context, copying: grouped.pointXY)
            groups = try Buffer(context: context, copying: grouped.pointGroup)
            boxes = try Buffer(context: context, copying: grouped.boxCorners)
            offsets = try Buffer(context: context, copying: grouped.offsets)
            distances = try Buffer(context: context, count: problem.outputCount)
        }
    }

    private let context: DeviceContext
    private let kernel: Kernel
    private let workGroupSize: Int

    package init(context: DeviceContext, configuration: Engine.Configuration) throws(OpenCLError) {
        self.context = context
        let program = try context.program(source: KernelSources.program("box_distance"),
                                          options: configuration.buildOptions)
        kernel = try program.kernel("box_distance")
        workGroupSize = try configuration.workGroupSize(for: kernel)
    }

    package func prepare(_ problem: BoxDistanceProblem) throws -> Prepared {
        try Prepared(problem, context: context)
    }

    package func enqueue(_ prepared: Prepared) throws -> [Event] {
        let problem = prepared.problem
        guard problem.outputCount > 0 else { return [] }
        var arguments = KernelArguments(kernel)
        try arguments.buffer(prepared.points)
        try arguments.buffer(prepared.groups)
        try arguments.buffer(prepared.boxes)
        try arguments.buffer(prepared.offsets)
        try arguments.value(UInt64(problem.points.count))
        try arguments.value(Int32(problem.classes))
        try arguments.buffer(prepared.distances)
        return [try kernel.launch(global: [LaunchShape.gridStride(count: problem.outputCount, workGroupSize: workGroupSize)],
                                  local: [workGroupSize])]
    }

    package func results(_ prepared: Prepared) throws -> [Float] {
        prepared.problem.outputCount > 0 ? try prepared.distances.read() : []
    }
}
