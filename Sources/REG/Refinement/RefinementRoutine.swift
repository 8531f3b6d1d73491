import REGRuntime

/// One refinement call: distances and the refinement's β, δ.
package struct RefinementProblem: Sendable {
    package let distances: [Float]
    package let refinement: Refinement

    package init(distances: [Float], _ refinement: Refinement) throws(InvalidArgument) {
        try refinement.validate()
        self.distances = distances
        self.refinement = refinement
    }
}

/// The OpenCL routine of the refinement: Kernels/refinement.cl, one work-item per element.
package final class RefinementRoutine: DeviceRoutine {
    package final class Prepared {
        let problem: RefinementProblem
        let distances: Buffer<Float>
        let weights: Buffer<Float>
        let nanFound: Buffer<Int32>

        init(_ problem: RefinementProblem, context: DeviceContext) throws(OpenCLError) {
            self.problem = problem
            distances = try Buffer(context: context, copying: problem.distances)
            weights = try Buffer(context: context, count: problem.distances.count)
            nanFound = try Buffer(context: context, count: 1)
        }
    }

    private let context: DeviceContext
    private let kernel: Kernel
    private let workGroupSize: Int

    package init(context: DeviceContext, configuration: Engine.Configuration) throws(OpenCLError) {
        self.context = context
        let program = try context.program(source: KernelSources.program("refinement"),
                                          options: configuration.buildOptions)
        kernel = try program.kernel("refine")
        workGroupSize = try configuration.workGroupSize(for: kernel)
    }

    package func prepare(_ problem: RefinementProblem) throws -> Prepared {
        try Prepared(problem, context: context)
    }

    package func enqueue(_ prepared: Prepared) throws -> [Event] {
        let count = prepared.problem.distances.count
        guard count > 0 else { return [] }
        try prepared.nanFound.fill(0)
        var arguments = KernelArguments(kernel)
        try arguments.buffer(prepared.distances)
        try arguments.buffer(prepared.weights)
        try arguments.value(UInt64(count))
        try arguments.value(prepared.problem.refinement.beta)
        try arguments.value(prepared.problem.refinement.delta)
        try arguments.buffer(prepared.nanFound)
        return [try kernel.launch(global: [LaunchShape.covering(count: count, workGroupSize: workGroupSize)],
                                  local: [workGroupSize])]
    }

    package func results(_ prepared: Prepared) throws -> [Float] {
        let distances = prepared.problem.distances
        guard !distances.isEmpty else { return [] }
        if try prepared.nanFound.read()[0] != 0 {
            guard let i = distances.firstIndex(where: \.isNaN) else {
                throw DeviceFault("the refinement kernel flagged a NaN distance that the host does not find")
            }
            throw InvalidArgument("distances", index: [i], "is NaN")
        }
        return try prepared.weights.read()
    }
}
