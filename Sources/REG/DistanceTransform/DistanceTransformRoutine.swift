import REGRuntime

/// The OpenCL routine of the distance transform: Kernels/distance_transform.cl, two launches on
/// one buffer (the column pass writes integer g into the output, the row pass overwrites it with
/// the result).
package final class DistanceTransformRoutine: DeviceRoutine {
    package final class Prepared {
        let input: DistanceTransformInput
        let labels: Buffer<UInt8>
        let maps: Buffer<Float>
        let badLabel: Buffer<Int32>

        init(_ input: DistanceTransformInput, context: DeviceContext) throws(OpenCLError) {
            self.input = input
            labels = try Buffer(context: context, copying: input.labels)
            maps = try Buffer(context: context, count: input.problem.outputCount)
            badLabel = try Buffer(context: context, count: 1)
        }
    }

    /// How the kernels walk memory; both give identical results.
    package enum Layout: String, CaseIterable, Sendable {
        /// CPU devices: one work-item sweeps a strip of columns row by row (contiguous, vectorised
        /// inner loops), then one work-item per row streams it through one core's cache.
        case cpu
        /// GPUs and other devices: one work-item per column (coalesced across the work-group), then
        /// a work-group's rows moved through a local-memory tile so that global accesses are
        /// coalesced.
        case gpu
    }

    /// Columns of the local tile of `edt_rows_staged` (REG_EDT_TILE in the kernel).
    static let tileColumns = 32
    /// Columns per work-item of `edt_columns_strip` (REG_EDT_STRIP in the kernel).
    static let stripColumns = 256

    private let context: DeviceContext
    private let columns: Kernel
    private let rows: Kernel
    let layout: Layout
    private let columnGroupSize: Int
    private let rowGroupSize: Int

    package convenience init(context: DeviceContext, configuration: Engine.Configuration) throws(OpenCLError) {
        try self.init(context: context, configuration: configuration,
                      layout: context.device.kind == .cpu ? .cpu : .gpu)
    }

    package init(context: DeviceContext, configuration: Engine.Configuration, layout: Layout) throws(OpenCLError) {
        self.context = context
        self.layout = layout
        let program = try context.program(source: KernelSources.program("distance_transform"),
                                          options: "-DREG_EDT_TILE=\(Self.tileColumns) -DREG_EDT_STRIP=\(Self.stripColumns) "
                                              + configuration.buildOptions)
        switch layout {
        case .cpu:
            columns = try program.kernel("edt_columns_strip")
            columnGroupSize = 1
            rows = try program.kernel("edt_rows")
            rowGroupSize = try configuration.workGroupSize(for: rows)
        case .gpu:
            columns = try program.kernel("edt_columns")
            columnGroupSize = try configuration.workGroupSize(for: columns)
            rows = try program.kernel("edt_rows_staged")
            // The tile takes group · (TILE + 1) ints of local memory: keep it within half of it.
            let tileBytes = (Self.tileColumns + 1) * MemoryLayout<Int32>.size
            let fits = max(1, Int(context.device.localMemoryBytes) / 2 / tileBytes)
            rowGroupSize = min(try configuration.workGroupSize(for: rows), fits)
        }
    }

    package func prepare(_ input: DistanceTransformInput) throws -> Prepared {
        try Prepared(input, context: context)
    }

    /// The column pass, then the row pass over the same buffer (a flagged label is reported by
    /// `results`; the row pass then ran over garbage that is never read back).
    package func enqueue(_ prepared: Prepared) throws -> [Event] {
        try enqueue(prepared.input.problem, labels: prepared.labels, maps: prepared.maps, badLabel: prepared.badLabel)
    }

    /// Both passes on buffers the caller owns (the step's workspace; they may be larger than the
    /// problem): labels in, maps out, `badLabel` set when a label is outside 0…C and 255.
    func enqueue(_ problem: DistanceTransformProblem, labels: Buffer<UInt8>, maps: Buffer<Float>,
                 badLabel: Buffer<Int32>) throws -> [Event] {
        try badLabel.fill(0)
        return [try launchColumns(labels: labels, output: maps, badLabel: badLabel, problem),
                try launchRows(output: maps, problem)]
    }

    package func results(_ prepared: Prepared) throws -> [Float] {
        if try prepared.badLabel.read()[0] != 0 {
            throw prepared.input.problem.firstInvalidLabel(prepared.input.labels)
                ?? DeviceFault("the distance-transform kernel flagged a label that the host finds valid")
        }
        return try prepared.maps.read()
    }

    private func launchColumns(labels: Buffer<UInt8>, output: Buffer<Float>, badLabel: Buffer<Int32>,
                               _ problem: DistanceTransformProblem) throws -> Event {
        try columns.setArgument(0, labels)
        try columns.setArgument(1, output)
        try columns.setArgument(2, value: Int32(problem.classes))
        try columns.setArgument(3, value: Int32(problem.height))
        try columns.setArgument(4, value: Int32(problem.width))
        try columns.setArgument(5, badLabel)
        let planes = problem.batch * problem.classes
        switch layout {
        case .cpu:
            let strips = (problem.width + Self.stripColumns - 1) / Self.stripColumns
            return try columns.launch(global: [strips, planes], local: [1, 1])
        case .gpu:
            let local = min(columnGroupSize, problem.width)
            let global = (problem.width + local - 1) / local * local
            return try columns.launch(global: [global, planes], local: [local, 1])
        }
    }

    private func launchRows(output: Buffer<Float>, _ problem: DistanceTransformProblem) throws -> Event {
        let rowCount = problem.batch * problem.classes * problem.height
        let sy2 = problem.spacing.y * problem.spacing.y
        let sx2 = problem.spacing.x * problem.spacing.x
        try rows.setArgument(0, output)
        try rows.setArgument(1, value: UInt64(rowCount))
        try rows.setArgument(2, value: Int32(problem.width))
        try rows.setArgument(3, value: Int32(problem.isotropic ? 1 : 0))
        try rows.setArgument(4, value: sy2)
        try rows.setArgument(5, value: sx2)
        try rows.setArgument(6, value: sy2)
        try rows.setArgument(7, value: Int32(problem.squared ? 1 : 0))
        switch layout {
        case .cpu:
            return try rows.launch(global: [LaunchShape.gridStride(count: rowCount, workGroupSize: rowGroupSize)],
                                   local: [rowGroupSize])
        case .gpu:
            try rows.setLocalArgument(8, bytes: rowGroupSize * (Self.tileColumns + 1) * MemoryLayout<Int32>.size)
            let groups = (rowCount + rowGroupSize - 1) / rowGroupSize
            return try rows.launch(global: [groups * rowGroupSize], local: [rowGroupSize])
        }
    }
}
