import Testing
import REGRuntime
@testable import REG

@Suite("OpenCL runtime layer")
struct RuntimeTests {
    @Test("Device listing finds the PoCL device")
    func listsPoCL() throws {
        let devices = try Device.all()
        let pocl = devices.first { $0.platformName.contains("Portable Computing Language") }
        #expect(pocl != nil, "found: \(devices.map(\.description))")
        if let pocl {
            #expect(pocl.kind == .cpu)
            #expect(pocl.computeUnits >= 1 && pocl.maxWorkGroupSize >= 1 && pocl.globalMemoryBytes > 0)
            #expect(!pocl.driverVersion.isEmpty)
        }
        #expect(try DeviceRequest.auto.select(from: devices) != nil)
    }

    @Test("Device requests parse and select")
    func deviceRequests() throws {
        #expect(DeviceRequest(parsing: "auto") == .auto)
        #expect(DeviceRequest(parsing: " CPU ") == .reference)
        #expect(DeviceRequest(parsing: "1") == .index(1))
        #expect(DeviceRequest(parsing: "pthread") == .name("pthread"))
        #expect(DeviceRequest.resolve(nil, environment: ["REG_DEVICE": "cpu"]) == .reference)
        #expect(DeviceRequest.resolve(.index(0), environment: ["REG_DEVICE": "cpu"]) == .index(0))
        #expect(DeviceRequest.resolve(nil, environment: [:]) == .auto)
        let devices = try Device.all()
        #expect(try DeviceRequest.name("PORTABLE").select(from: devices)?.index == 0)
        #expect(throws: DeviceSelectionError.noSuchIndex(devices.count, available: devices.count)) {
            try DeviceRequest.index(devices.count).select(from: devices)
        }
        #expect(throws: DeviceSelectionError.self) { try DeviceRequest.name("no such gpu").select(from: devices) }
        #expect(try DeviceRequest.auto.select(from: []) == nil)
    }

    @Test("A kernel that does not compile gives the typed error with the build log")
    func buildFailure() throws {
        let context = try DeviceContext(device: try #require(try Device.all().first))
        // The one compiler error PoCL prints to the test log names itself as deliberate.
        let source = "__kernel void broken(__global float *x) { x[0] = no_such_variable_on_purpose; }"
        let error = try #require(throws: OpenCLError.self) { try context.program(source: source) }
        #expect(error.code == -11 && error.name == "CL_BUILD_PROGRAM_FAILURE")
        #expect(error.call.hasPrefix("clBuildProgram"))
        #expect(error.buildLog?.contains("no_such_variable_on_purpose") == true, "log: \(error.buildLog ?? "nil")")
        #expect(error.description.contains("build log"))
    }

    @Test("Programs are cached by source and options")
    func programCache() throws {
        let context = try DeviceContext(device: try #require(try Device.all().first))
        let source = "__kernel void copy(__global float *x, __global const float *y) { x[get_global_id(0)] = y[get_global_id(0)]; }"
        _ = try context.program(source: source)
        _ = try context.program(source: source)
        #expect(context.cachedProgramCount == 1)
        _ = try context.program(source: source, options: "-cl-mad-enable")
        #expect(context.cachedProgramCount == 2)
    }

    @Test("Buffers round-trip, fill and copy")
    func buffers() throws {
        let context = try DeviceContext(device: try #require(try Device.all().first))
        let values: [Float] = (0..<1001).map { Float($0) * 0.5 }
        let buffer = try Buffer(context: context, copying: values)
        #expect(try buffer.read() == values)
        #expect(try buffer.read(offset: 10, count: 3) == [5, 5.5, 6])
        let other = try Buffer<Float>(context: context, count: 1001)
        let event = try buffer.copy(to: other)
        _ = try event.elapsedNanoseconds()
        #expect(try other.read() == values)
        try other.fill(-2)
        #expect(try other.read() == [Float](repeating: -2, count: 1001))
        #expect(try Buffer<Float>(context: context, count: 0).read().isEmpty)
    }

    @Test("Every OpenCL error code has a name")
    func errorNames() {
        #expect(OpenCLError.name(of: 0) == "CL_SUCCESS")
        #expect(OpenCLError.name(of: -30) == "CL_INVALID_VALUE")
        #expect(OpenCLError.name(of: -72) == "CL_MAX_SIZE_RESTRICTION_EXCEEDED")
        #expect(OpenCLError.name(of: -1001) == "CL_PLATFORM_NOT_FOUND_KHR")
        #expect(OpenCLError.name(of: 12345) == "UNKNOWN_OPENCL_ERROR")
        for code in Int32(-72)...0 where !(-29...(-20)).contains(code) {
            #expect(OpenCLError.name(of: code) != "UNKNOWN_OPENCL_ERROR", "code \(code)")
        }
    }

    @Test("Kernel sources are embedded")
    func embeddedKernels() {
        #expect(KernelSources.files["common"]?.contains("reg_sigmoid") == true)
        #expect(KernelSources.program("refinement").contains("__kernel void refine"))
    }
}
