import ArgumentParser
import Foundation
import REG

/// The README's main job for now: the refinement on a sample batch, on the chosen device and on
/// the CPU reference, with both results and times.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the refinement g = σ(β(d − δ)) on a sample batch on the device and on the CPU reference.")

    @OptionGroup var deviceOption: DeviceOption

    @Option(help: "Number of distances in the sample batch.")
    var count = 1 << 20

    @Option(help: "Sharpness β.")
    var beta: Float = 0.5

    @Option(help: "Threshold δ in pixels.")
    var delta: Float = 8

    func run() throws {
        guard count >= 0 else { throw ValidationError("--count must be ≥ 0, got \(count)") }
        let engine = try deviceOption.engine()
        let reference = try Engine(device: .reference)
        // A sample batch: distances from 0 to 64 pixels, with every 97th class absent (d = +∞).
        let distances = (0..<count).map { i in i % 97 == 0 ? Float.infinity : Float(i % 6400) / 100 }
        let refinement = Refinement(beta: beta, delta: delta)

        print("device: \(engine.backend)")
        _ = try engine.refine(distances: Array(distances.prefix(256)), refinement) // warm-up: build, first launch
        let (onDevice, deviceSeconds) = try timed { try engine.refine(distances: distances, refinement) }
        let (onReference, referenceSeconds) = try timed { try reference.refine(distances: distances, refinement) }
        let maxError = zip(onDevice, onReference).map { abs($0 - $1) }.max() ?? 0
        let shown = [0, 1, 2, 800, 1600, 3200].filter { $0 < count }
        print("g = σ(β(d − δ)) with β = \(beta), δ = \(delta), \(count) distances")
        for i in shown {
            print("  d = \(distances[i])\tdevice g = \(onDevice[i])\treference g = \(onReference[i])")
        }
        print(String(format: "device: %.3f ms   CPU reference: %.3f ms   max |difference|: %.3g",
                     deviceSeconds * 1e3, referenceSeconds * 1e3, maxError))
    }
}

func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = DispatchTime.now().uptimeNanoseconds
    let result = try body()
    return (result, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}
