import ArgumentParser
import Foundation
import REG
import REGRuntime

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List the OpenCL devices found and the one `auto` picks.")

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let devices = try Device.all()
        let picked = try DeviceRequest.auto.select(from: devices)
        if json {
            let listing = Listing(openCL: OpenCLLibrary.loadFailure ?? "loaded",
                                  devices: devices.map(DeviceRow.init),
                                  auto: picked.map { "\($0.index)" } ?? "cpu")
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(listing), as: UTF8.self))
            return
        }
        if let failure = OpenCLLibrary.loadFailure {
            print("OpenCL: not available (\(failure))")
        }
        if devices.isEmpty {
            print("No OpenCL device found.")
        }
        for device in devices {
            print("[\(device.index)] \(device.name)")
            print("    platform \(device.platformName), vendor \(device.vendor), type \(device.kind.rawValue)")
            print("    \(device.openCLVersion), driver \(device.driverVersion)")
            print("    \(device.computeUnits) compute units, \(mebibytes(device.globalMemoryBytes)) global memory, "
                + "\(kibibytes(device.localMemoryBytes)) local memory, max work-group \(device.maxWorkGroupSize)")
            print("    \(device.extensions.count) extensions: \(device.extensions.joined(separator: " "))")
        }
        if let picked {
            print("auto picks [\(picked.index)] \(picked.name)")
        } else {
            print("auto picks the CPU reference (float64)")
        }
    }

    private func mebibytes(_ bytes: UInt64) -> String { "\(bytes >> 20) MiB" }
    private func kibibytes(_ bytes: UInt64) -> String { "\(bytes >> 10) KiB" }
}

private struct Listing: Encodable {
    /// "loaded", or why libOpenCL.so.1 could not be loaded.
    let openCL: String
    let devices: [DeviceRow]
    /// The index `auto` picks, or "cpu" for the reference.
    let auto: String
}

private struct DeviceRow: Encodable {
    let index: Int
    let name: String
    let platform: String
    let vendor: String
    let type: String
    let version: String
    let driverVersion: String
    let computeUnits: Int
    let globalMemoryBytes: UInt64
    let localMemoryBytes: UInt64
    let maxWorkGroupSize: Int
    let extensions: [String]

    init(_ device: Device) {
        index = device.index
        name = device.name
        platform = device.platformName
        vendor = device.vendor
        type = device.kind.rawValue
        version = device.openCLVersion
        driverVersion = device.driverVersion
        computeUnits = device.computeUnits
        globalMemoryBytes = device.globalMemoryBytes
        localMemoryBytes = device.localMemoryBytes
        maxWorkGroupSize = device.maxWorkGroupSize
        extensions = device.extensions
    }
}
