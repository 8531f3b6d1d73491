/// The values of a segmentation label map (`[B, H, W]`, one byte per pixel on the device): the
/// one place the Swift side names them. Kernels/common.cl defines the same for OpenCL C.
public enum LabelMap {
    /// A pixel of no class: every class's negative.
    public static let background: UInt8 = 0
    /// A pixel that contributes nothing and is ground truth of no class.
    public static let ignore: UInt8 = 255
    /// Classes are 1…C with C at most 254: labels are bytes and 255 is `ignore`.
    public static let maximumClasses = 254
}
