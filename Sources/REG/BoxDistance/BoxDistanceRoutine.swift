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
        return try enqueue(points: problem.points.count, classes: problem.classes, pointXY: prepared.points,
                           pointGroups: prepared.groups, boxCorners: prepared.boxes, offsets: prepared.offsets,
                           distances: prepared.distances)
    }

    /// The launch on buffers the caller owns (the step's workspace; they may be larger than
    /// needed): `points` × `classes` distances, from grouped points and boxes.
    func enqueue(points: Int, classes: Int, pointXY: Buffer<Float>, pointGroups: Buffer<Int32>, boxCorners: Buffer<Float>,
                 offsets: Buffer<Int32>, distances: Buffer<Float>) throws -> [Event] {
        let total = points * classes
        guard total > 0 else { return [] }
        var arguments = KernelArguments(kernel)
        try arguments.buffer(pointXY)
        try arguments.buffer(pointGroups)
        try arguments.buffer(boxCorners)
        try arguments.buffer(offsets)
        try arguments.value(UInt64(points))
        try arguments.value(Int32(classes))
        try arguments.buffer(distances)
        return [try kernel.launch(global: [LaunchShape.gridStride(count: total, workGroupSize: workGroupSize)],
                                  local: [workGroupSize])]
    }

    package func results(_ prepared: Prepared) throws -> [Float] {
        prepared.problem.outputCount > 0 ? try prepared.distances.read() : []
    }
}
