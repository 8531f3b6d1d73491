import CREGAPI
import REG

// reg_version, engines, and the settings' defaults (include/reg.h).

@_cdecl("reg_version")
public func regVersion(_ version: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    version?.pointee = versionCString
    return REG_API_VERSION
}

@_cdecl("reg_api_minor_version")
public func regAPIMinorVersion() -> Int32 {
    REG_API_MINOR_VERSION
}

@_cdecl("reg_engine_create")
public func regEngineCreate(_ device: UnsafePointer<CChar>?, _ fallback: Int32,
                            _ handle: UnsafeMutablePointer<OpaquePointer?>?,
                            _ message: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
    handle?.pointee = nil
    return status(message, capacity) {
        guard let handle else { throw InvalidArgument("engine", "is NULL; pass the address of a reg_engine *") }
        let policy: Engine.FallbackPolicy
        switch fallback {
        case REG_FALLBACK_REFERENCE: policy = .toReference
        case REG_FALLBACK_ERROR: policy = .throwError
        default:
            throw InvalidArgument("fallback", "is \(fallback); expected REG_FALLBACK_REFERENCE (0) or REG_FALLBACK_ERROR (1)")
        }
        // NULL or "": REG_DEVICE, else auto (Engine's own rule for no explicit request).
        let text = device.map { String(cString: $0) } ?? ""
        let request = text.isEmpty ? nil : DeviceRequest(parsing: text)
        let engine = try Engine(device: request, fallback: policy)
        handle.pointee = OpaquePointer(Unmanaged.passRetained(engine).toOpaque())
    }
}

@_cdecl("reg_engine_destroy")
public func regEngineDestroy(_ handle: OpaquePointer?) -> Int32 {
    if let handle { Unmanaged<Engine>.fromOpaque(UnsafeRawPointer(handle)).release() }
    return REG_OK
}

@_cdecl("reg_engine_backend")
public func regEngineBackend(_ handle: OpaquePointer?, _ backend: UnsafeMutablePointer<Int32>?,
                             _ description: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
    var text = ""
    let code = status(description, capacity) {
        let now = try engine(handle).backend
        backend?.pointee = backendCode(now)
        text = now.description
    }
    if code == REG_OK { write(text, into: description, capacity) }
    return code
}

@_cdecl("reg_task_settings_init")
public func regTaskSettingsInit(_ settings: UnsafeMutablePointer<reg_task_settings>?) -> Int32 {
    guard let settings else { return REG_INVALID_ARGUMENT }
    settings.pointee = .defaults
    return REG_OK
}

@_cdecl("reg_step_settings_init")
public func regStepSettingsInit(_ settings: UnsafeMutablePointer<reg_step_settings>?) -> Int32 {
    guard let settings else { return REG_INVALID_ARGUMENT }
    let d = StepSettings()
    var c = reg_step_settings()
    c.detection = .defaults
    c.segmentation = .defaults
    c.lambda = d.lambda
    c.validate_elements = d.validatesElements ? 1 : 0
    c.memory_budget = Int64(d.memoryBudget ?? 0)
    settings.pointee = c
    return REG_OK
}
