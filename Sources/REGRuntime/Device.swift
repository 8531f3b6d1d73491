import COpenCL

/// The kind of an OpenCL device, as its driver reports it.
public enum DeviceKind: String, Sendable, Codable {
    case gpu, accelerator, cpu, other
}

/// One OpenCL device and what its driver says about it.
///
/// `cl_device_id` values are process-wide, immutable handles owned by the driver, so sharing them
/// across threads is safe.
public struct Device: @unchecked Sendable, CustomStringConvertible {
    public let id: cl_device_id
    public let platformName: String
    /// Position in `Device.all()`: the index that `REG_DEVICE` and `--device` accept.
    public let index: Int
    public let name: String
    public let vendor: String
    public let kind: DeviceKind
    public let driverVersion: String
    public let openCLVersion: String
    public let computeUnits: Int
    public let globalMemoryBytes: UInt64
    /// The largest single buffer the device allocates (CL_DEVICE_MAX_MEM_ALLOC_SIZE).
    public let maxAllocationBytes: UInt64
    public let localMemoryBytes: UInt64
    public let maxWorkGroupSize: Int
    public let extensions: [String]
    /// CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT: the float vector width the device runs at full rate.
    public let preferredFloatVectorWidth: Int

    public var description: String { "\(name) (\(platformName), \(kind.rawValue))" }

    /// Every device of every platform, in platform order then device order. Empty when there is no
    /// loader, no platform (CL_PLATFORM_NOT_FOUND_KHR), or no device.
    ///
    /// Enumerated once per process: ICD loaders initialise their vendor list on first use and some
    /// are not safe to initialise from several threads at once (PoCL was seen to report no platform
    /// to a concurrent caller), and the set of devices does not change while a process runs.
    public static func all() throws(OpenCLError) -> [Device] {
        try enumerated.get()
    }

    private static let enumerated = Result { () throws(OpenCLError) -> [Device] in try enumerate() }

    private static func enumerate() throws(OpenCLError) -> [Device] {
        guard OpenCLLibrary.isLoaded else { return [] }
        var count: cl_uint = 0
        let status = regclGetPlatformIDs(0, nil, &count)
        // -1001: the ICD loader found no vendor driver. Not an error: there is simply nothing.
        if status == -1001 || count == 0 { return [] }
        try check(status, "clGetPlatformIDs")
        var platforms = [cl_platform_id?](repeating: nil, count: Int(count))
        try check(regclGetPlatformIDs(count, &platforms, nil), "clGetPlatformIDs")

        var devices: [Device] = []
        for case let platform? in platforms {
            let platformName = try platformString(platform, cl_platform_info(CL_PLATFORM_NAME))
            var deviceCount: cl_uint = 0
            let found = regclGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &deviceCount)
            if found == CL_DEVICE_NOT_FOUND || deviceCount == 0 { continue }
            try check(found, "clGetDeviceIDs")
            var ids = [cl_device_id?](repeating: nil, count: Int(deviceCount))
            try check(regclGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), deviceCount, &ids, nil),
                      "clGetDeviceIDs")
            for case let id? in ids {
                devices.append(try Device(id: id, platformName: platformName, index: devices.count))
            }
        }
        return devices
    }

    init(id: cl_device_id, platformName: String, index: Int) throws(OpenCLError) {
        self.id = id
        self.platformName = platformName
        self.index = index
        name = try Self.string(id, CL_DEVICE_NAME)
        vendor = try Self.string(id, CL_DEVICE_VENDOR)
        driverVersion = try Self.string(id, CL_DRIVER_VERSION)
        openCLVersion = try Self.string(id, CL_DEVICE_VERSION)
        extensions = try Self.string(id, CL_DEVICE_EXTENSIONS).split(separator: " ").map(String.init)
        let type: cl_device_type = try Self.value(id, CL_DEVICE_TYPE)
        if type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 {
            kind = .gpu
        } else if type & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 {
            kind = .accelerator
        } else if type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 {
            kind = .cpu
        } else {
            kind = .other
        }
        computeUnits = Int(try Self.value(id, CL_DEVICE_MAX_COMPUTE_UNITS) as cl_uint)
        globalMemoryBytes = try Self.value(id, CL_DEVICE_GLOBAL_MEM_SIZE) as cl_ulong
        maxAllocationBytes = try Self.value(id, CL_DEVICE_MAX_MEM_ALLOC_SIZE) as cl_ulong
        localMemoryBytes = try Self.value(id, CL_DEVICE_LOCAL_MEM_SIZE) as cl_ulong
        maxWorkGroupSize = Int(try Self.value(id, CL_DEVICE_MAX_WORK_GROUP_SIZE) as Int)
        preferredFloatVectorWidth = Int(try Self.value(id, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT) as cl_uint)
    }

    private static func string(_ id: cl_device_id, _ info: Int32) throws(OpenCLError) -> String {
        var size = 0
        try check(regclGetDeviceInfo(id, cl_device_info(info), 0, nil, &size), "clGetDeviceInfo")
        var bytes = [UInt8](repeating: 0, count: max(size, 1))
        try check(regclGetDeviceInfo(id, cl_device_info(info), size, &bytes, nil), "clGetDeviceInfo")
        return decodeCString(bytes)
    }

    private static func value<T: BitwiseCopyable>(_ id: cl_device_id, _ info: Int32) throws(OpenCLError) -> T {
        var result = [UInt8](repeating: 0, count: MemoryLayout<T>.size)
        try check(regclGetDeviceInfo(id, cl_device_info(info), result.count, &result, nil), "clGetDeviceInfo")
        return result.withUnsafeBytes { $0.loadUnaligned(as: T.self) }
    }

    private static func platformString(_ id: cl_platform_id, _ info: cl_platform_info) throws(OpenCLError) -> String {
        var size = 0
        try check(regclGetPlatformInfo(id, info, 0, nil, &size), "clGetPlatformInfo")
        var bytes = [UInt8](repeating: 0, count: max(size, 1))
        try check(regclGetPlatformInfo(id, info, size, &bytes, nil), "clGetPlatformInfo")
        return decodeCString(bytes)
    }
}

func decodeCString(_ bytes: [UInt8]) -> String {
    String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self).trimmingWhitespace()
}

