import Foundation
import Logging
import REGRuntime
import Synchronization

/// Where REG computes, and the policy for when the device fails.
///
/// An engine owns one OpenCL device (context, queue, built programs, the routines of each
/// operation) or the float64 CPU reference. Every operation has both implementations with the
/// same signature; the engine runs the device one and, when the device fails, falls back to the
/// reference with one logged warning, so that nothing the caller asked for is lost.
///
/// Thread-safe: calls are serialised by a lock (routines own `cl_kernel`s, whose arguments are
/// not thread-safe to set, and the step's workspace). `@unchecked`: the lock guards non-`Sendable`
/// routines that a call uses while holding it; `Mutex.withLock` would have to `send` them out of
/// its closure with each result, which the region checker refuses for these classes.
public final class Engine: @unchecked Sendable {
    /// What computes: one OpenCL device, or the float64 CPU reference. Every result says which
    /// backend computed it; two backends are equal when they are the same device context.
    public enum Backend: CustomStringConvertible, Equatable, Sendable {
        case openCL(DeviceContext)
        case reference

        public var description: String {
            switch self {
            case .openCL(let context): "OpenCL: \(context.device)"
            case .reference: "CPU reference (float64)"
            }
        }

        public static func == (a: Backend, b: Backend) -> Bool {
            switch (a, b) {
            case (.openCL(let x), .openCL(let y)): x === y
            case (.reference, .reference): true
            default: false
            }
        }
    }

    /// What happens when the OpenCL device fails to build or run a kernel.
    public enum FallbackPolicy: Sendable {
        /// Log one warning and compute on the CPU reference (the default).
        case toReference
        /// Throw the error, every time (used by `reg check` and tests, which must measure the device).
        case throwError
    }

    /// Tuning that reaches the routines: extra program build options and the work-group size.
    public struct Configuration: Sendable {
        /// Appended to every program's build options (e.g. "-cl-mad-enable").
        public var buildOptions: String
        /// Work-group size for the 1-D kernels; nil picks 256, clamped to what each kernel allows.
        public var workGroupSize: Int?
        /// The element kernels' layout; nil takes the tuning table's row for the device
        /// (`KernelVariant.tuned(for:)`). Set it to test or time the other variant.
        public var kernelVariant: KernelVariant?

        public init(buildOptions: String = "", workGroupSize: Int? = nil, kernelVariant: KernelVariant? = nil) {
            self.buildOptions = buildOptions
            self.workGroupSize = workGroupSize
            self.kernelVariant = kernelVariant
        }
    }

    public let request: DeviceRequest
    public let fallback: FallbackPolicy
    public let configuration: Configuration
    let logger: Logger
    private let lock = NSLock()
    private var state: Backend
    private var routines: [ObjectIdentifier: AnyObject] = [:]
    /// Operations whose programs failed to build on this device: they run on the reference.
    /// Only under `.toReference`; under `.throwError` every call tries the device again.
    private var unbuildable: Set<ObjectIdentifier> = []

    /// Chooses a device: `device` if given, else `REG_DEVICE` from `environment`, else `auto`.
    /// Throws `DeviceSelectionError` when an explicit index or name matches no device.
    public init(device: DeviceRequest? = nil,
                fallback: FallbackPolicy = .toReference,
                configuration: Configuration = Configuration(),
                logger: Logger = Logger(label: "reg"),
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let request = DeviceRequest.resolve(device, environment: environment)
        self.request = request
        self.fallback = fallback
        self.configuration = configuration
        self.logger = logger
        state = .reference
        if request == .reference { return }

        let devices: [Device]
        do {
            devices = try Device.all()
        } catch {
            try fail(error, "listing OpenCL devices failed")
            return
        }
        guard let chosen = try request.select(from: devices) else {
            // Only `auto` gets here (explicit requests throw when nothing matches).
            let why = OpenCLLibrary.loadFailure ?? "no OpenCL platform or device was found"
            logger.warning("REG uses the CPU reference: \(why)")
            return
        }
        do {
            state = .openCL(try DeviceContext(device: chosen))
        } catch {
            try fail(error, "setting up \(chosen) failed")
        }
    }

    /// The backend in use now (it becomes `.reference` after a device failure).
    public var backend: Backend { lock.withLock { state } }

    /// The OpenCL device in use, or nil on the CPU reference.
    public var device: Device? {
        if case .openCL(let context) = backend { return context.device }
        return nil
    }

    /// The focal kernels' layout on the device in use (the configured one, else the tuning table's
    /// row); nil on the CPU reference.
    public var kernelVariant: KernelVariant? {
        device.map { configuration.kernelVariant ?? .tuned(for: $0) }
    }

    /// Runs `body` and returns its value with the backend that computed it: `.reference` when any
    /// engine call inside `body` ran on the reference (after a fallback, a build failure or an
    /// overflow recomputed there), else the device.
    public func reporting<T>(_ body: (Engine) throws -> T) throws -> (value: T, backend: Backend) {
        let record = BackendRecord()
        let value = try Self.$record.withValue(record) { try body(self) }
        return (value, record.backend ?? backend)
    }

    @TaskLocal private static var record: BackendRecord?

    /// Runs `operation` on the device through routine `R`, or on the CPU reference; returns the
    /// result and the backend that computed it.
    ///
    /// `InvalidArgument` from either side is rethrown as is: bad input is the caller's, not the
    /// device's. `memory` is checked before anything is allocated (`OutOfMemory`). A build failure
    /// moves this operation to the reference; an `OpenCLError` or `DeviceFault` while running moves
    /// the whole engine there; a `DeviceOverflow` recomputes this one call there. Each logs one
    /// warning; under `.throwError` each is thrown instead.
    func run<R: DeviceRoutine>(_ operation: String, on routine: R.Type, _ problem: R.Problem,
                               memory: MemoryNeeds,
                               reference: () throws -> R.Output) throws -> (R.Output, Backend) {
        let (result, backend) = try lock.withLock { () throws -> (R.Output, Backend) in
            let key = ObjectIdentifier(routine)
            if case .openCL(let context) = state, !unbuildable.contains(key) {
                try memory.requireDevice(context.device, operation)
                try memory.requireHost(memory.hostBytes, operation)
                do {
                    return (try routineInstance(R.self, key, context).evaluate(problem), state)
                } catch let error as OpenCLError where error.isBuildFailure {
                    guard fallback == .toReference else { throw error }
                    unbuildable.insert(key)
                    logger.warning("\(operation): kernels do not build on \(context.device); this operation uses the CPU reference from now on. \(error)")
                } catch let error as DeviceOverflow {
                    guard fallback == .toReference else { throw error }
                    logger.warning("\(operation): \(error) on \(context.device); this call was recomputed on the CPU reference.")
                } catch where error is OpenCLError || error is DeviceFault {
                    guard fallback == .toReference else { throw error }
                    logger.warning("\(operation) failed on \(context.device); REG uses the CPU reference from now on. \(error)")
                    state = .reference
                    routines.removeAll()
                }
            }
            try memory.requireHost(memory.referenceHostBytes, operation)
            return (try reference(), .reference)
        }
        Self.record?.add(backend)
        return (result, backend)
    }

    /// The cached routine `R` of this engine, built on first use.
    private func routineInstance<R: DeviceRoutine>(_: R.Type, _ key: ObjectIdentifier,
                                                   _ context: DeviceContext) throws(OpenCLError) -> R {
        if let cached = routines[key] as? R { return cached }
        let instance = try R(context: context, configuration: configuration)
        routines[key] = instance
        return instance
    }

    /// The routine `R` this engine built, if any (for tests of what routines keep).
    func cachedRoutine<R: DeviceRoutine>(_: R.Type) -> R? {
        lock.withLock { routines[ObjectIdentifier(R.self)] as? R }
    }

    private func fail(_ error: any Error, _ what: String) throws {
        guard fallback == .toReference else { throw error }
        logger.warning("REG uses the CPU reference: \(what): \(error)")
    }
}

/// The backends that computed the calls inside one `Engine.reporting` body: the reference wins.
private final class BackendRecord: Sendable {
    private let used = Mutex<Engine.Backend?>(nil)

    var backend: Engine.Backend? { used.withLock { $0 } }

    func add(_ backend: Engine.Backend) {
        used.withLock { if $0 != .reference { $0 = backend } }
    }
}
