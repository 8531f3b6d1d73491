// The runtime types that appear in REG's public API, re-exported so that `import REG` is all a
// training loop needs. The rest of REGRuntime (buffers, kernels, programs) stays behind it.
@_exported import struct REGRuntime.Device
@_exported import enum REGRuntime.DeviceKind
@_exported import enum REGRuntime.DeviceRequest
@_exported import enum REGRuntime.DeviceSelectionError
@_exported import class REGRuntime.DeviceContext
@_exported import struct REGRuntime.OpenCLError
@_exported import enum REGRuntime.OpenCLLibrary
