import ArgumentParser
import Foundation
import REG
import REGNumPy

/// The refinement through files: distances in, weights out, any shape.
struct RefineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refine",
        abstract: "Compute the refinement g = σ(β(d − δ)) of a .npy array of distances.",
        discussion: """
            DISTANCES is a .npy array of any shape and a dtype that converts exactly to float32 \
            (float64 rounds); +inf means no ground truth of the class. OUT is float32 of the same \
            shape. A NaN distance is an error naming its index.
            """)

    @Argument(help: ArgumentHelp("Distances in pixels (.npy).", valueName: "distances"))
    var distances: String

    @Option(name: .short, help: ArgumentHelp("Output file for the weights (.npy, float32).", valueName: "out"))
    var output: String

    // `.unconditional`: the value may start with a minus sign (`--beta -0.5`).
    @Option(parsing: .unconditional, help: "Sharpness β (any sign).")
    var beta: Float

    @Option(parsing: .unconditional, help: "Threshold δ in pixels.")
    var delta: Float

    @OptionGroup var deviceOption: DeviceOption

    func validate() throws {
        try requireFinite(beta, "--beta")
        try requireFinite(delta, "--delta")
    }

    func run() throws {
        let outputs = try OutputFiles(output)
        let input = try ArrayFiles.read(distances)
        let engine = try deviceOption.engine()
        let values = try input.floats()
        let (weights, backend): ([Float], Engine.Backend)
        do {
            (weights, backend) = try engine.reporting { try $0.refine(distances: values, Refinement(beta: beta, delta: delta)) }
        } catch let error as InvalidArgument where error.argument == "distances" {
            // Name the file and the element by its position in the array, not in the flat list.
            let place = error.index.map { "\(input.index(ofFlat: $0[0]))" } ?? ""
            throw InputError("\(distances)\(place): \(error.reason)")
        } catch let error as InvalidArgument {
            throw ValidationError("--\(error.argument): \(error.reason)")
        }
        try outputs.write(try NumPyArray(shape: input.shape, float32: weights), to: output)
        print("refine: \(input.count) distances \(input.shape) → \(output) on \(backend)")
    }
}
