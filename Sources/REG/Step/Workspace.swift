import REGRuntime

/// Device buffers kept from step to step: a buffer is allocated the first time it is asked for
/// and again only when a later step needs it larger, so a training loop of same-size batches
/// allocates nothing after its first step. `allocations` counts the device allocations made.
final class Workspace {
    private let context: DeviceContext
    private var buffers: [String: AnyObject] = [:]
    private(set) var allocations = 0

    init(context: DeviceContext) { self.context = context }

    /// The buffer called `name`, holding at least `count` elements (its contents are whatever the
    /// last step left: callers write before they read).
    func buffer<T: BitwiseCopyable>(_ name: String, _: T.Type = T.self, count: Int) throws(OpenCLError) -> Buffer<T> {
        if let existing = buffers[name] as? Buffer<T>, existing.count >= count { return existing }
        buffers[name] = nil // release the smaller one first
        let grown = try Buffer<T>(context: context, count: max(count, 1))
        allocations += 1
        buffers[name] = grown
        return grown
    }

    /// The focal loss's small buffers for `classes` classes and `partials` partials.
    func focalScratch(_ name: String, classes: Int, partials: Int) throws(OpenCLError) -> FocalLossScratch {
        if let existing = buffers[name] as? FocalLossScratch, existing.fits(classes: classes, partials: partials) {
            return existing
        }
        buffers[name] = nil
        let scratch = try FocalLossScratch(context: context, classes: classes, partials: partials)
        allocations += FocalLossScratch.bufferCount
        buffers[name] = scratch
        return scratch
    }
}
