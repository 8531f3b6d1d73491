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

    // `.unconditional`: a value may start with a minus sign; validate() then names it
    // (`--spacing: SY must be > 0, got -1`) instead of "Missing value".
    @Option(parsing: .unconditional, help: "Number of classes C, 1…254 (default: the largest label below 255).")
    var classes: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Pixel spacing along y and x, each in [1e-12, 1e12].", valueName: "sy,sx"))
    var spacing: String?

    @Flag(help: "Write squared distances (exact integers at unit spacing).")
    var squared = false

    @OptionGroup var deviceOption: DeviceOption

    func validate() throws {
        if let classes {
            guard (1...254).contains(classes) else {
                throw ValidationError("--classes: must be in 1…254 (255 is the ignore label), got \(classes)")
            }
        }
        if let spacing { _ = try Self.parseSpacing(spacing) }
    }

    func run() throws {
        let outputs = try OutputFiles(output)
        let input = try ArrayFiles.read(labels)
        try ArrayFiles.requireRank(input, [2, 3], "labels")
        let (batch, height, width) = input.rank == 2
            ? (1, input.shape[0], input.shape[1]) : (input.shape[0], input.shape[1], input.shape[2])
        let values = try input.int32s()
        let classCount = try classes ?? Self.largestClass(values, file: labels)
        let pixelSpacing = try spacing.map(Self.parseSpacing) ?? .unit

        let engine = try deviceOption.engine()
        let sources = ArgumentSources(files: ["labels": labels], options: ["classes": "--classes", "spacing": "--spacing"])
        let (maps, backend) = try sources.run {
            try Self.inFileTerms(file: labels, shape: input.shape) {
                try engine.reporting {
                    try $0.distanceTransform(labels: values, batch: batch, height: height, width: width,
                                             classes: classCount, spacing: pixelSpacing, squared: squared)
                }
            }
        }
        let shape = input.rank == 2 ? [classCount, height, width] : [batch, classCount, height, width]
        try outputs.write(try NumPyArray(shape: shape, float32: maps), to: output)
        print("edt: \(input.shape) labels, \(classCount) classes → \(output) \(shape) on \(backend)")
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
        for (name, value) in zip(["SY", "SX"], values) {
            guard value.isFinite, value > 0 else {
                throw ValidationError("--spacing: \(name) must be > 0, got \(shown(value))")
            }
            guard PixelSpacing.range.contains(value) else {
                throw ValidationError("--spacing: \(name) must be in [1e-12, 1e12], got \(value)")
            }
        }
        return PixelSpacing(y: values[0], x: values[1])
    }

    /// Runs the transform with its errors in the file's terms: an element of an (H, W) file is
    /// named [y, x] (the engine names [b, y, x] of a batch of one), and a map the transform cannot
    /// take (a side over 32768 pixels, an empty axis, more than 2^36 distances) names the file.
    static func inFileTerms<T>(file: String, shape: [Int], _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as InvalidArgument where error.argument == "labels" && shape.count == 2 {
            guard let index = error.index, index.count == 3 else { throw error }
            throw InvalidArgument("labels", index: Array(index.dropFirst()), error.reason)
        } catch let error as InvalidArgument where ["height", "width", "batch"].contains(error.argument) {
            let what = error.argument == "batch" ? "" : "\(error.argument) "
            throw InputError("\(file): labels of shape \(shape): \(what)\(error.reason)")
        }
    }
}
