import ArgumentParser
import Foundation
import REG
import REGNumPy

/// Point-to-box distances per class, through files.
struct BoxDistanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "box-distance",
        abstract: "Distances from sample points to the nearest ground-truth box of each class (.npy).",
        discussion: """
            POINTS is float (N, 3) rows [image, x, y]; BOXES is float (M, 6) rows \
            [image, class, x1, y1, x2, y2] with class 1…C. OUT is float32 (N, C): 0 inside or on a \
            box, the Euclidean distance to the nearest box of the class otherwise, +inf when the \
            point's image has no box of the class. Image and class columns must hold integers.
            """)

    @Option(help: ArgumentHelp("Sample points (.npy, (N, 3)).", valueName: "points"))
    var points: String

    @Option(help: ArgumentHelp("Ground-truth boxes (.npy, (M, 6)).", valueName: "boxes"))
    var boxes: String

    // `.unconditional`: `--classes -1` is parsed and refused by validate(), not "Missing value".
    @Option(parsing: .unconditional, help: "Number of classes C ≥ 1.")
    var classes: Int

    @Option(name: .short, help: ArgumentHelp("Output file (.npy, float32).", valueName: "out"))
    var output: String

    @OptionGroup var deviceOption: DeviceOption

    func validate() throws {
        try requireAtLeast(classes, 1, "--classes")
    }

    func run() throws {
        let outputs = try OutputFiles(output)
        let pointArray = try ArrayFiles.read(points)
        let boxArray = try ArrayFiles.read(boxes)
        let samples = try Self.rows(pointArray, columns: 3, file: points).enumerated().map { n, row in
            SamplePoint(image: try Self.integer(row[0], file: points, at: [n, 0]), x: Float(row[1]), y: Float(row[2]))
        }
        let truth = try Self.rows(boxArray, columns: 6, file: boxes).enumerated().map { m, row in
            GroundTruthBox(image: try Self.integer(row[0], file: boxes, at: [m, 0]),
                           classID: try Self.integer(row[1], file: boxes, at: [m, 1]),
                           x1: Float(row[2]), y1: Float(row[3]), x2: Float(row[4]), y2: Float(row[5]))
        }
        let engine = try deviceOption.engine()
        let sources = ArgumentSources(files: ["points": points, "boxes": boxes], options: ["classes": "--classes"])
        let (distances, backend) = try sources.run {
            try engine.reporting { try $0.boxDistances(points: samples, boxes: truth, classes: classes) }
        }
        try outputs.write(try NumPyArray(shape: [samples.count, classes], float32: distances), to: output)
        print("box-distance: \(samples.count) points, \(truth.count) boxes, \(classes) classes → \(output) on \(backend)")
    }

    /// The array as rows of `columns` values (float64, so image indices stay exact).
    static func rows(_ array: NumPyArray, columns: Int, file: String) throws -> [[Double]] {
        guard array.rank == 2, array.shape[1] == columns || array.shape[0] == 0 else {
            throw NumPyError(.shapeMismatch, file: file, "must have shape (rows, \(columns)), got \(array.shape)")
        }
        let values = try array.doubles()
        return stride(from: 0, to: values.count, by: columns).map { Array(values[$0..<($0 + columns)]) }
    }

    static func integer(_ value: Double, file: String, at index: [Int]) throws -> Int {
        guard value.isFinite, value == value.rounded(), abs(value) < 1e15 else {
            throw InputError("\(file)[\(index[0]), \(index[1])]: must be an integer, got \(value)")
        }
        return Int(value)
    }
}
