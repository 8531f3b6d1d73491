import ArgumentParser
import Foundation
import REG
import REGNumPy

/// The per-class Euclidean distance transform of label maps, through files.
struct EdtCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edt",
        abstract: "Exact per-class Euclidean distance transform of a label map (.npy).",
        discussion: """
            LABELS is (H, W) or (B, H, W) integer labels: 0 background, 1…C classes, 255 ignore (ground \
            truth of no class). OUT is float32 (C, H, W) or (B, C, H, W): channel k holds, at every \
            pixel, the distance to the nearest pixel of class k+1 in the same image (0 on the class's \
            own pixels, +inf when the image has no pixel of the class).
            """)

    @Argument(help: ArgumentHelp("Label map (.npy, integer dtype).", valueName: "labels"))
    var labels: String

    @Option(name: .short, help: ArgumentHelp("Output file (.npy, float32).", valueName: "out"))
    var output: String

    @Option(help: "Number of classes C (default: the largest label below 255).")
    var classes: Int?

    @Option(help: ArgumentHelp("Pixel spacing along y and x.", valueName: "sy,sx"))
    var spacing: String?

    @Flag(help: "Write squared distances (exact integers at unit spacing).")
    var squared = false

    @OptionGroup var deviceOption: DeviceOption

    func run() throws {
        let input = try ArrayFiles.read(labels)
        try ArrayFiles.requireRank(input, [2, 3], "labels")
        let (batch, height, width) = input.rank == 2
            ? (1, input.shape[0], input.shape[1]) : (input.shape[0], input.shape[1], input.shape[2])
        let values = try input.int32s()
        let classCount = try classes ?? Self.largestClass(values, file: labels)
        let pixelSpacing = try spacing.map(Self.parseSpacing) ?? .unit

        let engine = try deviceOption.engine()
        let sources = ArgumentSources(files: ["labels": labels], options: ["classes": "--classes", "spacing": "--spacing"])
        let maps = try sources.run {
            try engine.distanceTransform(labels: values, batch: batch, height: height, width: width,
                                         classes: classCount, spacing: pixelSpacing, squared: squared)
        }
        let shape = input.rank == 2 ? [classCount, height, width] : [batch, classCount, height, width]
        try ArrayFiles.write(try NumPyArray(shape: shape, float32: maps), to: output)
        print("edt: \(input.shape) labels, \(classCount) classes → \(output) \(shape) on \(engine.backend)")
    }

    /// C when --classes is not given: the largest label that is a class (below 255).
    static func largestClass(_ labels: [Int32], file: String) throws -> Int {
        let largest = labels.lazy.filter { $0 > 0 && $0 < 255 }.max()
        guard let largest else {
            throw InputError("\(file): no class label (1…254) in the map; give --classes to get +inf maps")
        }
        return Int(largest)
    }

    static func parseSpacing(_ text: String) throws -> PixelSpacing {
        let values: [Float] = try parseList(text, option: "--spacing")
        guard values.count == 2 else { throw ValidationError("--spacing: expected SY,SX, got '\(text)'") }
        return PixelSpacing(y: values[0], x: values[1])
    }
}
