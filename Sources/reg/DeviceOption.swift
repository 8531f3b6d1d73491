import ArgumentParser
import Foundation
import REG
import REGRuntime

/// `--device auto|reference|<index>|<name substring>`, shared by every subcommand that computes.
struct DeviceOption: ParsableArguments {
    @Option(name: .long,
            help: "auto (GPU, then accelerator, then CPU OpenCL device, then the reference), reference (the float64 CPU reference, no OpenCL; aliases cpu, ref), a device index from `reg devices`, or a name substring. Default: $REG_DEVICE, else auto.")
    var device: String?

    @Option(name: .long,
            help: ArgumentHelp("The focal kernels' layout: scalar-groups (GPUs' row of the tuning table), vector4|8|16-items (CPU devices'), or any scalar|vector2|4|8|16 with -items or -groups. Default: the table's row for the device.", valueName: "variant"))
    var kernelVariant: String?

    /// Where the request comes from, as error messages name it: `--device` when given, else
    /// `REG_DEVICE=<value>` when that is set, else nil (`auto`).
    func origin(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if device != nil { return "--device" }
        if let text = environment[DeviceRequest.environmentVariable] {
            return "\(DeviceRequest.environmentVariable)=\(text)"
        }
        return nil
    }

    /// The engine for the requested device (falls back to the CPU reference with a warning).
    /// A request that names no device is a `ValidationError` that blames where it came from:
    /// `--device: …` or `REG_DEVICE=…: …`.
    func engine(fallback: Engine.FallbackPolicy = .toReference,
                configuration: Engine.Configuration = Engine.Configuration()) throws -> Engine {
        let environment = ProcessInfo.processInfo.environment
        var configuration = configuration
        if let kernelVariant {
            guard let variant = KernelVariant(name: kernelVariant) else {
                throw ValidationError("--kernel-variant: '\(kernelVariant)' is not a variant; use scalar-groups, vector16-items, or <scalar|vector2|vector4|vector8|vector16>-<items|groups>")
            }
            configuration.kernelVariant = variant
        }
        do {
            return try Engine(device: device.map(DeviceRequest.init(parsing:)), fallback: fallback,
                              configuration: configuration, environment: environment)
        } catch let error as DeviceSelectionError {
            throw ValidationError("\(origin(environment: environment) ?? "--device"): \(error)")
        }
    }
}
