/// Which device to compute on: `auto`, the float64 CPU reference, or one OpenCL device by index or
/// name.
public enum DeviceRequest: Sendable, Equatable, CustomStringConvertible {
    /// A GPU, else an accelerator, else a CPU OpenCL device, else the CPU reference.
    case auto
    /// The float64 CPU reference (no OpenCL at all). Spelled `reference`; `cpu` and `ref` are
    /// accepted aliases (`cpu` is not an OpenCL CPU device such as PoCL: name one of those by index
    /// or name).
    case reference
    /// The device at this position in `Device.all()`.
    case index(Int)
    /// The first device whose name, vendor or platform contains this text (case-insensitive).
    case name(String)

    /// Environment variable that overrides `auto` when no explicit request is given.
    public static let environmentVariable = "REG_DEVICE"

    /// Parses `auto`, `reference` (or its aliases `cpu` and `ref`), a non-negative index, or a name
    /// substring; case and surrounding whitespace are ignored.
    public init(parsing text: String) {
        let trimmed = text.trimmingWhitespace()
        switch trimmed.lowercased() {
        case "", "auto": self = .auto
        case "reference", "ref", "cpu": self = .reference
        default:
            if let index = Int(trimmed), index >= 0 { self = .index(index) } else { self = .name(trimmed) }
        }
    }

    /// An explicit request wins; otherwise REG_DEVICE from `environment`; otherwise `auto`.
    public static func resolve(_ explicit: DeviceRequest?, environment: [String: String]) -> DeviceRequest {
        if let explicit { return explicit }
        if let text = environment[environmentVariable] { return DeviceRequest(parsing: text) }
        return .auto
    }

    public var description: String {
        switch self {
        case .auto: "auto"
        case .reference: "reference"
        case .index(let i): "\(i)"
        case .name(let n): n
        }
    }

    /// The device this request names among `devices`, or nil for the CPU reference.
    /// Throws when an index or name matches nothing.
    public func select(from devices: [Device]) throws(DeviceSelectionError) -> Device? {
        switch self {
        case .reference:
            return nil
        case .auto:
            for kind in [DeviceKind.gpu, .accelerator, .cpu] {
                if let device = devices.first(where: { $0.kind == kind }) { return device }
            }
            return nil
        case .index(let index):
            guard devices.indices.contains(index) else {
                throw .noSuchIndex(index, available: devices.count)
            }
            return devices[index]
        case .name(let text):
            let needle = text.lowercased()
            let match = devices.first {
                [$0.name, $0.vendor, $0.platformName].contains { $0.lowercased().contains(needle) }
            }
            guard let match else { throw .noSuchName(text, available: devices.map(\.name)) }
            return match
        }
    }
}

/// A device request that names no device present.
public enum DeviceSelectionError: Error, CustomStringConvertible, Equatable {
    case noSuchIndex(Int, available: Int)
    case noSuchName(String, available: [String])

    public var description: String {
        switch self {
        case .noSuchIndex(let index, let available):
            "device index \(index) does not exist: \(available) OpenCL device(s) found (valid: 0..<\(available), or 'reference' for the float64 CPU reference)"
        case .noSuchName(let name, let available):
            "no OpenCL device matches '\(name)'; found: \(available.isEmpty ? "none" : available.joined(separator: ", "))"
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
