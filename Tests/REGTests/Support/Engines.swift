import Foundation
import Testing
import Logging
import REG
import REGRuntime

/// Engines for tests. The device engine never falls back (a device failure must fail the test,
/// not silently compare the reference with itself); its device is the first OpenCL device.
enum Engines {
    /// `kernelVariant` nil takes the tuning table's row for the device.
    static func device(workGroupSize: Int? = nil, buildOptions: String = "", kernelVariant: KernelVariant? = nil) throws -> Engine {
        let engine = try Engine(device: .index(0), fallback: .throwError,
                                configuration: .init(buildOptions: buildOptions, workGroupSize: workGroupSize,
                                                     kernelVariant: kernelVariant),
                                environment: [:])
        precondition(engine.device != nil, "tests need an OpenCL device: install pocl-opencl-icd")
        return engine
    }

    static func reference() throws -> Engine {
        try Engine(device: .reference, environment: [:])
    }
}

/// Collects log records, to assert on the warnings the engine logs.
final class LogRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var records: [(Logger.Level, String)] = []

    var logger: Logger {
        Logger(label: "reg-test") { _ in RecordingHandler(recorder: self) }
    }

    var warnings: [String] { lock.withLock { records.filter { $0.0 == .warning }.map(\.1) } }

    fileprivate func append(_ level: Logger.Level, _ message: String) {
        lock.withLock { records.append((level, message)) }
    }
}

private struct RecordingHandler: LogHandler {
    let recorder: LogRecorder
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        recorder.append(event.level, event.message.description)
    }
}

/// A kernel variant and work-group size to run the device tests under: nil variant is the tuning
/// table's row for the device (vector items on PoCL), the other the default row (scalar groups).
struct KernelSetup: Sendable, CustomTestStringConvertible {
    let variant: KernelVariant?
    let workGroupSize: Int?

    var testDescription: String { "\(variant.map(String.init(describing:)) ?? "tuned"), work-group size \(workGroupSize.map(String.init) ?? "default")" }

    func engine() throws -> Engine { try Engines.device(workGroupSize: workGroupSize, kernelVariant: variant) }

    /// The device's own row at the default size, and the other row at 64.
    static let both = [KernelSetup(variant: nil, workGroupSize: nil), KernelSetup(variant: .scalarGroups, workGroupSize: 64)]
}
