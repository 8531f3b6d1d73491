import ArgumentParser
import REG
import REGRuntime

/// `--device auto|cpu|<index>|<name substring>`, shared by every subcommand that computes.
struct DeviceOption: ParsableArguments {
    @Option(name: .long,
            help: "auto (GPU, then accelerator, then CPU OpenCL device, then the CPU reference), cpu (the reference), a device index from `reg devices`, or a name substring. Default: $REG_DEVICE, else auto.")
    var device: String?

    /// The engine for the requested device (falls back to the CPU reference with a warning).
    func engine(fallback: Engine.FallbackPolicy = .toReference,
                configuration: Engine.Configuration = Engine.Configuration()) throws -> Engine {
        do {
            return try Engine(device: device.map(DeviceRequest.init(parsing:)), fallback: fallback,
                              configuration: configuration)
        } catch let error as DeviceSelectionError {
            throw ValidationError("--device: \(error)")
        }
    }
}
