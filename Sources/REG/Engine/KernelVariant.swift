import REGRuntime

/// How the element kernels (the focal loss's) are laid out on a device: one row of REG's tuning
/// table, reaching the kernel as build options (docs/focal-loss.md, "Kernel variants").
///
/// The table has a row for CPU devices and a default row for the rest (GPUs, accelerators):
/// - CPU: each work-item takes `vectorWidth` consecutive elements as one OpenCL vector (the
///   device's preferred float width, 4 to 16), walks a contiguous chunk of them and writes its own
///   partial sums — no barrier in the kernel. PoCL runs the device's exp/log/erf on vector types
///   at full SIMD width, while its implicit vectoriser across work-items gives up on kernels of
///   this size, and a barrier splits a kernel into regions that run one work-item at a time.
/// - Default: one element per work-item in a grid-stride loop (neighbouring work-items read
///   neighbouring addresses) and a reduction tree in local memory per work-group.
///
/// Either variant gives the same bits from run to run for the same inputs, device and work-group
/// size; the two differ from each other in the last bits of sums (a different summation order).
public struct KernelVariant: Hashable, Sendable, CustomStringConvertible {
    /// Elements per work-item, as one OpenCL vector: 1, 2, 4, 8 or 16.
    public let vectorWidth: Int
    /// Each work-item writes its own partial sums (true) or its work-group reduces them in local
    /// memory (false).
    public let itemPartials: Bool

    /// Throws `InvalidArgument` for a width other than 1, 2, 4, 8 or 16.
    public init(vectorWidth: Int, itemPartials: Bool) throws {
        guard [1, 2, 4, 8, 16].contains(vectorWidth) else {
            throw InvalidArgument("vectorWidth", "must be 1, 2, 4, 8 or 16, got \(vectorWidth)")
        }
        self.vectorWidth = vectorWidth
        self.itemPartials = itemPartials
    }

    private init(width: Int, itemPartials: Bool) {
        vectorWidth = width
        self.itemPartials = itemPartials
    }

    /// The default row: scalar work-items, work-group trees.
    public static let scalarGroups = KernelVariant(width: 1, itemPartials: false)

    /// The CPU row at `vectorWidth`.
    public static func vectorItems(_ vectorWidth: Int) throws -> KernelVariant {
        try KernelVariant(vectorWidth: vectorWidth, itemPartials: true)
    }

    /// The table's row for `device`.
    public static func tuned(for device: Device) -> KernelVariant {
        switch device.kind {
        case .cpu:
            // The preferred width as a power of two in 4…16 (PoCL reports 16 with AVX-512, 8 with AVX2).
            var width = 4
            while width < 16 && width * 2 <= device.preferredFloatVectorWidth { width *= 2 }
            return KernelVariant(width: width, itemPartials: true)
        default:
            return .scalarGroups
        }
    }

    /// "vector16-items" or "scalar-groups": the names `--kernel-variant` takes.
    public var description: String {
        (vectorWidth == 1 ? "scalar" : "vector\(vectorWidth)") + (itemPartials ? "-items" : "-groups")
    }

    /// Parses `description`'s form; nil for anything else.
    public init?(name: String) {
        let parts = name.split(separator: "-")
        guard parts.count == 2, parts[1] == "items" || parts[1] == "groups" else { return nil }
        let width: Int
        if parts[0] == "scalar" {
            width = 1
        } else if parts[0].hasPrefix("vector"), let w = Int(parts[0].dropFirst(6)), [2, 4, 8, 16].contains(w) {
            width = w
        } else {
            return nil
        }
        self.init(width: width, itemPartials: parts[1] == "items")
    }

    var buildOptions: String { "-DVECTOR_WIDTH=\(vectorWidth) -DITEM_PARTIALS=\(itemPartials ? 1 : 0)" }
}
