import CREGAPI
import Foundation
import REG

// The conventions of include/reg.h shared by every entry point: statuses and messages, engine
// handles, buffer views, dimensions and task settings.

/// REG's version, as `reg --version` prints it.
let versionString = REGVersion.current

/// The version as a C string that lives as long as the library.
nonisolated(unsafe) let versionCString: UnsafePointer<CChar> = UnsafePointer(strdup(versionString)!)

/// Runs `body` and turns what it throws into a status and a message in the caller's buffer ("" on
/// success).
func status(_ message: UnsafeMutablePointer<CChar>?, _ capacity: Int, _ body: () throws -> Void) -> Int32 {
    let code: Int32
    let text: String
    do {
        try body()
        (code, text) = (REG_OK, "")
    } catch let error as InvalidArgument {
        (code, text) = (REG_INVALID_ARGUMENT, error.description)
    } catch let error as OutOfMemory {
        (code, text) = (REG_OUT_OF_MEMORY, error.description)
    } catch let error as DeviceSelectionError {
        (code, text) = (REG_DEVICE_ERROR, error.description)
    } catch let error as OpenCLError {
        (code, text) = (REG_DEVICE_ERROR, error.description)
    } catch let error as DeviceFault {
        (code, text) = (REG_DEVICE_ERROR, error.description)
    } catch let error as DeviceOverflow {
        (code, text) = (REG_DEVICE_ERROR, error.description)
    } catch {
        (code, text) = (REG_INTERNAL_ERROR, String(describing: error))
    }
    write(text, into: message, capacity)
    return code
}

/// Writes `text` NUL-terminated into `buffer`, cut at a UTF-8 character boundary to fit.
func write(_ text: String, into buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int) {
    // size_t arrives as Int: a capacity of 2^63 or more reads as negative and means "large".
    guard let buffer, capacity != 0 else { return }
    let room = capacity < 0 ? Int.max : capacity - 1
    let bytes = Array(text.utf8)
    var n = min(bytes.count, room)
    while n > 0 && n < bytes.count && bytes[n] & 0xC0 == 0x80 { n -= 1 }
    bytes.withUnsafeBufferPointer { source in
        source.baseAddress.map { UnsafeMutableRawPointer(buffer).copyMemory(from: $0, byteCount: n) }
    }
    buffer[n] = 0
}

// MARK: Engines

/// The engine behind a handle (retained by `reg_engine_create`, released by `reg_engine_destroy`).
func engine(_ handle: OpaquePointer?) throws(InvalidArgument) -> Engine {
    guard let handle else { throw InvalidArgument("engine", "is NULL") }
    return Unmanaged<Engine>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}

func backendCode(_ backend: Engine.Backend) -> Int32 {
    backend == .reference ? REG_BACKEND_REFERENCE : REG_BACKEND_OPENCL
}

// MARK: Buffers and sizes

/// A dimension or count from C: size_t values of 2^63 or more arrive negative.
func size(_ value: Int, _ argument: String) throws(InvalidArgument) -> Int {
    guard value >= 0 else { throw InvalidArgument(argument, "is \(UInt(bitPattern: value)); it must be less than 2^63") }
    return value
}

/// A view REG reads: nil when absent (data NULL, count 0).
func view<T>(_ data: UnsafePointer<T>?, _ count: Int, _ argument: String) throws(InvalidArgument) -> UnsafeBufferPointer<T>? {
    let count = try size(count, "\(argument) count")
    guard let data else {
        guard count == 0 else { throw InvalidArgument(argument, "is NULL with a count of \(count)") }
        return nil
    }
    return UnsafeBufferPointer(start: data, count: count)
}

/// A view REG must read: NULL with count 0 is an empty array.
func required<T>(_ data: UnsafePointer<T>?, _ count: Int, _ argument: String) throws(InvalidArgument) -> UnsafeBufferPointer<T> {
    try view(data, count, argument) ?? UnsafeBufferPointer(start: nil, count: 0)
}

func view(_ floats: reg_floats, _ argument: String) throws(InvalidArgument) -> UnsafeBufferPointer<Float>? {
    try view(floats.data, floats.count, argument)
}

func required(_ floats: reg_floats, _ argument: String) throws(InvalidArgument) -> UnsafeBufferPointer<Float> {
    try required(floats.data, floats.count, argument)
}

func required(_ labels: reg_labels, _ argument: String) throws(InvalidArgument) -> UnsafeBufferPointer<UInt8> {
    try required(labels.data, labels.count, argument)
}

/// A buffer REG writes: nil when absent.
func view(_ floats: reg_floats_mut, _ argument: String) throws(InvalidArgument) -> UnsafeMutableBufferPointer<Float>? {
    let count = try size(floats.count, "\(argument) count")
    guard let data = floats.data else {
        guard count == 0 else { throw InvalidArgument(argument, "is NULL with a count of \(count)") }
        return nil
    }
    return UnsafeMutableBufferPointer(start: data, count: count)
}

/// An output of exactly `expected` values (NULL is accepted when nothing is expected).
func output(_ floats: reg_floats_mut, _ expected: Int, _ argument: String) throws(InvalidArgument) -> UnsafeMutableBufferPointer<Float> {
    let buffer = try view(floats, argument) ?? UnsafeMutableBufferPointer(start: nil, count: 0)
    guard buffer.count == expected else {
        throw InvalidArgument(argument, "has \(buffer.count) values; expected \(expected)")
    }
    return buffer
}

/// A float32 or float16 view REG reads: nil when absent (data NULL, count 0).
func view(_ tensor: reg_tensor, _ argument: String) throws(InvalidArgument) -> FloatView? {
    let count = try size(tensor.count, "\(argument) count")
    let precision = try elementType(tensor.dtype, argument)
    guard let data = tensor.data else {
        guard count == 0 else { throw InvalidArgument(argument, "is NULL with a count of \(count)") }
        return nil
    }
    switch precision {
    case .float32: return .float32(UnsafeBufferPointer(start: data.assumingMemoryBound(to: Float.self), count: count))
    case .float16: return .float16(UnsafeBufferPointer(start: data.assumingMemoryBound(to: Float16.self), count: count))
    }
}

/// A float32 or float16 view REG must read: NULL with count 0 is an empty array of its dtype.
func required(_ tensor: reg_tensor, _ argument: String) throws(InvalidArgument) -> FloatView {
    if let view = try view(tensor, argument) { return view }
    return try elementType(tensor.dtype, argument) == .float16 ? .float16(UnsafeBufferPointer(start: nil, count: 0))
                                                               : .float32(UnsafeBufferPointer(start: nil, count: 0))
}

/// A float32 or float16 buffer REG writes: nil when absent.
func view(_ tensor: reg_tensor_mut, _ argument: String) throws(InvalidArgument) -> MutableFloatView? {
    let count = try size(tensor.count, "\(argument) count")
    let precision = try elementType(tensor.dtype, argument)
    guard let data = tensor.data else {
        guard count == 0 else { throw InvalidArgument(argument, "is NULL with a count of \(count)") }
        return nil
    }
    switch precision {
    case .float32: return .float32(UnsafeMutableBufferPointer(start: data.assumingMemoryBound(to: Float.self), count: count))
    case .float16: return .float16(UnsafeMutableBufferPointer(start: data.assumingMemoryBound(to: Float16.self), count: count))
    }
}

/// REG_FLOAT32 or REG_FLOAT16; anything else names the array.
func elementType(_ dtype: Int32, _ argument: String) throws(InvalidArgument) -> FloatPrecision {
    switch dtype {
    case REG_FLOAT32: return .float32
    case REG_FLOAT16: return .float16
    default: throw InvalidArgument(argument, "has dtype \(dtype); expected REG_FLOAT32 (0) or REG_FLOAT16 (1)")
    }
}

/// Copies `values` (as many as `buffer` holds) into the caller's buffer.
func copy(_ values: [Float], into buffer: UnsafeMutableBufferPointer<Float>) {
    precondition(values.count == buffer.count)
    guard let base = buffer.baseAddress else { return }
    values.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: $0.count) }
}

/// Copies `values` into the caller's float32 or float16 buffer (float16 rounded to nearest even:
/// exact for values that are already halves).
func copy(_ values: [Float], into buffer: MutableFloatView) {
    switch buffer {
    case .float32(let floats): copy(values, into: floats)
    case .float16(let halves):
        precondition(values.count == halves.count)
        for i in values.indices { halves[i] = Float16(values[i]) }
    }
}

/// `a × b × …`, or nil when it overflows (REG's own checks then name the problem).
func product(_ values: Int...) -> Int? {
    var p = 1
    for v in values {
        let (next, overflow) = p.multipliedReportingOverflow(by: v)
        if overflow { return nil }
        p = next
    }
    return p
}

// MARK: Settings

extension reg_task_settings {
    /// The C defaults, from `TaskSettings()`.
    static var defaults: reg_task_settings {
        let d = TaskSettings()
        var c = reg_task_settings()
        c.alpha = nil
        c.alpha_count = 0
        c.gamma = d.gamma
        c.refinement = d.refinement == nil ? 0 : 1
        c.beta = d.refinement?.beta ?? 0.5
        c.delta = d.refinement?.delta ?? 8
        c.sigma = d.sigma
        c.activation = d.activation == .softmax ? REG_ACTIVATION_SOFTMAX : REG_ACTIVATION_SIGMOID
        c.positive_fraction = d.positiveFraction ?? -1
        c.normalizer = REG_NORMALIZER_SAMPLES
        c.normalizer_value = 0
        return c
    }

    /// REG's settings; errors name the fields as `prefix` + field (`det_alpha`, or `alpha`).
    func taskSettings(_ prefix: String) throws(InvalidArgument) -> TaskSettings {
        var s = TaskSettings()
        s.alpha = try view(alpha, alpha_count, "\(prefix)alpha").map(Array.init)
        s.gamma = gamma
        s.refinement = refinement != 0 ? Refinement(beta: beta, delta: delta) : nil
        s.sigma = sigma
        switch activation {
        case REG_ACTIVATION_SIGMOID: s.activation = .sigmoid
        case REG_ACTIVATION_SOFTMAX: s.activation = .softmax
        default:
            throw InvalidArgument("\(prefix)activation", "is \(activation); expected REG_ACTIVATION_SIGMOID (0) or REG_ACTIVATION_SOFTMAX (1)")
        }
        // Negative is off; NaN is not negative and reaches REG's range check.
        s.positiveFraction = positive_fraction < 0 ? nil : positive_fraction
        switch normalizer {
        case REG_NORMALIZER_SAMPLES: s.normalizer = .samples
        case REG_NORMALIZER_POSITIVES: s.normalizer = .positives
        case REG_NORMALIZER_GIVEN: s.normalizer = .given(normalizer_value)
        default:
            throw InvalidArgument("\(prefix)normalizer", "is \(normalizer); expected REG_NORMALIZER_SAMPLES (0), _POSITIVES (1) or _GIVEN (2)")
        }
        return s
    }
}
