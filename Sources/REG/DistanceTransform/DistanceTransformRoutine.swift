import Foundation
import REGRuntime

/// The OpenCL routine of the distance transform: Kernels/distance_transform.cl, two launches on
/// one buffer (the column pass writes integer g into the output, the row pass overwrites it with
/// the result).
///
/// The routine keeps its device buffers between calls (`Workspace`): a call of the same size as
/// the last (or up to 4× smaller) allocates nothing, so no device memory is created or, on a CPU
/// device, faulted in again. The result array is new memory every call; it is readied for the
/// read-back (`HostMemory.prepareForOverwrite`) instead of being faulted in page by page.
package final class DistanceTransformRoutine: DeviceRoutine {
    /// The device buffers of one evaluation: labels in, maps out, the bad-label flag. They may be
    /// larger than the problem (the kernels and the read-back use the problem's sizes).
    final class Workspace {
        let labels: Buffer<UInt8>
        let maps: Buffer<Float>
        let badLabel: Buffer<Int32>

        init(_ problem: DistanceTransformProblem, context: DeviceContext) throws(OpenCLError) {
            labels = try Buffer(context: context, count: problem.labelCount)
            maps = try Buffer(context: context, count: problem.outputCount)
            badLabel = try Buffer(context: context, count: 1)
        }

        /// Whether this workspace holds `problem` without wasting more than 3/4 of itself.
        func fits(_ problem: DistanceTransformProblem) -> Bool {
            labels.count >= problem.labelCount && maps.count >= problem.outputCount
                && maps.count / 4 <= problem.outputCount
        }
    }

    /// One evaluation's problem and the workspace it holds until it is released, when the
    /// workspace goes back to the routine for the next call. Two evaluations alive at once hold
    /// two workspaces: they never share buffers.
    package final class Prepared {
        let input: DistanceTransformInput
        let workspace: Workspace
        private weak var routine: DistanceTransformRoutine?

        var labels: Buffer<UInt8> { workspace.labels }
        var maps: Buffer<Float> { workspace.maps }
        var badLabel: Buffer<Int32> { workspace.badLabel }

        fileprivate init(_ input: DistanceTransformInput, workspace: Workspace, routine: DistanceTransformRoutine) {
            self.input = input
            self.workspace = workspace
            self.routine = routine
        }

        deinit { routine?.keep(workspace) }
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
    /// Rows a work-item of `edt_rows` takes at a time: their envelope builds and walks run as the
    /// lanes of one OpenCL vector (REG_EDT_LANES in the kernel). 8 measured fastest on PoCL with
    /// AVX-512 (2026-12-06, docs/benchmarks-notes.md): 16 rows of a width that is a multiple of
    /// 1024 floats start 4 KiB apart, all in one set of an 8-way L1 cache, and the lanes' gathers
    /// then miss it (16 lanes, row pass of 8 × S² × 5: about the same at 512², 2× the time at 2048²).
    static let rowLanes = 8
    /// Work-groups per compute unit the CPU row pass aims for (a work-item takes `rowLanes` rows, so the
    /// configured group size alone can leave cores idle or unevenly loaded).
    static let rowGroupsPerComputeUnit = 8
    /// Work-items per compute unit the CPU column pass aims for: a row is split into strips only
    /// when the planes alone give fewer.
    static let columnItemsPerComputeUnit = 4
    /// The narrowest strip of `edt_columns_strip` worth a work-item of its own.
    static let narrowestStrip = 64

    /// Columns per work-item of `edt_columns_strip`: whole rows when there are planes enough for
    /// the compute units, else the rows split evenly into as many strips as they need (a multiple of
    /// 16 columns, at least `narrowestStrip`). Whole rows measured fastest on PoCL (2026-12-06,
    /// 8 × S² × 5, 2 cores): the column pass 2.2 ms at 512² and 44–53 ms at 2048² against 3.5 and
    /// 73–85 ms with strips of 256, whose row segments the prefetchers follow as separate streams.
    static func stripColumns(width: Int, planes: Int, computeUnits: Int) -> Int {
        let wanted = (columnItemsPerComputeUnit * max(1, computeUnits) + planes - 1) / max(1, planes)
        let strips = max(1, min(wanted, width / narrowestStrip))
        let columns = (width + strips - 1) / strips
        return (columns + 15) / 16 * 16
    }

    private let context: DeviceContext
    private let columns: Kernel
    private let rows: Kernel
    let layout: Layout
    private let columnGroupSize: Int
    private let rowGroupSize: Int
    /// The workspace of the last evaluation, kept for the next (nil while an evaluation holds it).
    private var spare: Workspace?
    private let spareLock = NSLock()
    /// Workspaces created so far (for tests of the reuse).
    private(set) var workspaceAllocations = 0

    package convenience init(context: DeviceContext, configuration: Engine.Configuration) throws(OpenCLError) {
        try self.init(context: context, configuration: configuration,
                      layout: context.device.kind == .cpu ? .cpu : .gpu)
    }

    package init(context: DeviceContext, configuration: Engine.Configuration, layout: Layout) throws(OpenCLError) {
        self.context = context
        self.layout = layout
        let program = try context.program(source: KernelSources.program("distance_transform"),
                                          options: "-DREG_EDT_TILE=\(Self.tileColumns) "
                                              + "-DREG_EDT_LANES=\(Self.rowLanes) "
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

    /// Takes the kept workspace when it fits the problem (else releases it and allocates one that
    /// does), and uploads the labels into it.
    package func prepare(_ input: DistanceTransformInput) throws -> Prepared {
        var workspace = spareLock.withLock { () -> Workspace? in
            defer { spare = nil }
            return spare
        }
        if let kept = workspace, !kept.fits(input.problem) { workspace = nil }
        if workspace == nil {
            workspace = try Workspace(input.problem, context: context)
            spareLock.withLock { workspaceAllocations += 1 }
        }
        let prepared = Prepared(input, workspace: workspace!, routine: self)
        try prepared.labels.write(input.labels)
        return prepared
    }

    /// Keeps `workspace` for the next evaluation (the larger one, when an evaluation is still
    /// holding another).
    /// A workspace over a quarter of the device's memory is not kept: it would crowd out the other
    /// operations' buffers between calls.
    fileprivate func keep(_ workspace: Workspace) {
        let bytes = UInt64(workspace.maps.byteCount + workspace.labels.byteCount)
        guard bytes <= context.device.globalMemoryBytes / 4 else { return }
        spareLock.withLock {
            if let kept = spare, kept.maps.count >= workspace.maps.count { return }
            spare = workspace
        }
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

    /// Reads the maps back into a new array after checking the bad-label flag. The array is readied
    /// for the copy (huge pages, faulted in with one call) before the first blocking read, so that
    /// this host work overlaps the kernels still running.
    package func results(_ prepared: Prepared) throws -> [Float] {
        let count = prepared.input.problem.outputCount
        return try [Float](unsafeUninitializedCapacity: count) { storage, initialized in
            HostMemory.prepareForOverwrite(UnsafeMutableRawBufferPointer(storage))
            if try prepared.badLabel.read()[0] != 0 {
                throw prepared.input.problem.firstInvalidLabel(prepared.input.labels)
                    ?? DeviceFault("the distance-transform kernel flagged a label that the host finds valid")
            }
            try prepared.maps.read(into: storage)
            initialized = count
        }
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
            let strip = Self.stripColumns(width: problem.width, planes: planes,
                                          computeUnits: context.device.computeUnits)
            try columns.setArgument(6, value: Int32(strip))
            return try columns.launch(global: [(problem.width + strip - 1) / strip, planes], local: [1, 1])
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
            // One work-item per REG_EDT_LANES rows; groups no larger than the configured size, and
            // small enough that every compute unit gets several.
            let items = (rowCount + Self.rowLanes - 1) / Self.rowLanes
            let units = max(1, context.device.computeUnits) * Self.rowGroupsPerComputeUnit
            let local = max(1, min(rowGroupSize, items / units))
            return try rows.launch(global: [LaunchShape.gridStride(count: items, workGroupSize: local)],
                                   local: [local])
        case .gpu:
            try rows.setLocalArgument(8, bytes: rowGroupSize * (Self.tileColumns + 1) * MemoryLayout<Int32>.size)
            let groups = (rowCount + rowGroupSize - 1) / rowGroupSize
            return try rows.launch(global: [groups * rowGroupSize], local: [rowGroupSize])
        }
    }
}
