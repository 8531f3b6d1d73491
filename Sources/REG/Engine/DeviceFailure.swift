import Foundation
import REGRuntime

/// The device produced a result the host cannot trust although the OpenCL calls succeeded: a
/// kernel flagged an element that the host finds valid, for instance. Treated like a failed
/// OpenCL call: the engine falls back to the reference (or throws, under `.throwError`).
public struct DeviceFault: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) { self.description = description }
}

/// The device's float32 arithmetic overflowed on finite inputs (a loss sum past 3.4e38, say).
/// Not a device failure: that one call is recomputed on the float64 reference with a warning, and
/// the engine stays on its device.
public struct DeviceOverflow: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) { self.description = description }
}

/// Not enough memory for a call, found before anything was allocated.
public struct OutOfMemory: Error, CustomStringConvertible, Sendable {
    /// The operation, e.g. "distance-transform".
    public let operation: String
    /// "host memory", "memory of <device>" or "one buffer on <device>".
    public let place: String
    public let neededBytes: Int
    public let availableBytes: UInt64
    /// How to need less, e.g. "fewer classes, a smaller batch".
    public let remedy: String

    public var description: String {
        "\(operation) needs \(Self.format(UInt64(neededBytes))) of \(place), but only \(Self.format(availableBytes)) "
            + "is available; \(remedy)"
    }

    static func format(_ bytes: UInt64) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) bytes" : String(format: "%.1f %@", value, units[unit])
    }
}

/// What one call of an operation allocates, estimated from its sizes before it runs.
struct MemoryNeeds: Sendable {
    /// Results (and staging copies) on the host when the device computes.
    var hostBytes: Int
    /// The float64 reference's working arrays and results.
    var referenceHostBytes: Int
    /// Every device buffer of the call together.
    var deviceBytes: Int
    /// The largest single device buffer.
    var largestBuffer: Int
    /// How to need less, in the caller's words.
    var remedy: String

    /// Bytes of `elements` values of 4 bytes (float32, int32) and 8 bytes (float64), saturating:
    /// an impossible size must still read as too large, not wrap around.
    static func floats(_ elements: Int) -> Int { bytes(elements, 4) }
    static func doubles(_ elements: Int) -> Int { bytes(elements, 8) }

    private static func bytes(_ elements: Int, _ size: Int) -> Int {
        let (product, overflow) = elements.multipliedReportingOverflow(by: size)
        return overflow ? .max : product
    }

    func requireHost(_ bytes: Int, _ operation: String, available: UInt64? = HostMemory.availableBytes()) throws(OutOfMemory) {
        guard let available, UInt64(max(bytes, 0)) > available else { return }
        throw OutOfMemory(operation: operation, place: "host memory", neededBytes: bytes, availableBytes: available,
                          remedy: remedy)
    }

    func requireDevice(_ device: Device, _ operation: String) throws(OutOfMemory) {
        let remedy = "\(self.remedy), or compute on the reference (--device reference)"
        if UInt64(max(largestBuffer, 0)) > device.maxAllocationBytes {
            throw OutOfMemory(operation: operation, place: "one buffer on \(device.name)", neededBytes: largestBuffer,
                              availableBytes: device.maxAllocationBytes, remedy: remedy)
        }
        if UInt64(max(deviceBytes, 0)) > device.globalMemoryBytes {
            throw OutOfMemory(operation: operation, place: "memory of \(device.name)", neededBytes: deviceBytes,
                              availableBytes: device.globalMemoryBytes, remedy: remedy)
        }
    }
}
