import ArgumentParser
import Foundation
import REG
import REGRuntime

/// `--device auto|reference|<index>|<name substring>`, shared by every subcommand that computes.
struct DeviceOption: ParsableArguments {
    @Option(name: .long,
            help: "auto (GPU, then accelerator, then CPU OpenCL device, then the reference), reference (the float64 CPU reference, no OpenCL; aliases cpu, ref), a device index from `reg devices`, or a name substring. Default: $REG_DEVICE, else auto.")
    var device: String?

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
        do {
            return try Engine(device: device.map(DeviceRequest.init(parsing:)), fallback: fallback,
                              configuration: configuration, environment: environment)
        } catch let error as DeviceSelectionError {
            throw ValidationError("\(origin(environment: environment) ?? "--device"): \(error)")
        }
    }
}
