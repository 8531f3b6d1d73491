import COpenCL

/// A device buffer of `count` elements of `Element`, released in deinit.
public final class Buffer<Element: BitwiseCopyable>: @unchecked Sendable {
    let handle: cl_mem
    public let count: Int
    /// Strong: a buffer keeps its context (and queue) alive for as long as it is used.
    let context: DeviceContext

    public var byteCount: Int { count * MemoryLayout<Element>.stride }

    /// An uninitialised buffer of `count` elements (at least one byte is allocated, as OpenCL
    /// rejects empty buffers).
    public init(context: DeviceContext, count: Int) throws(OpenCLError) {
        var status: cl_int = 0
        let bytes = max(count * MemoryLayout<Element>.stride, MemoryLayout<Element>.stride, 1)
        guard let handle = regclCreateBuffer(context.context, cl_mem_flags(CL_MEM_READ_WRITE), bytes, &status),
              status == CL_SUCCESS
        else {
            throw OpenCLError(code: status, call: "clCreateBuffer(\(bytes) bytes)")
        }
        self.handle = handle
        self.count = count
        self.context = context
    }

    /// A buffer holding a copy of `elements`.
    public convenience init(context: DeviceContext, copying elements: [Element]) throws(OpenCLError) {
        try self.init(context: context, count: elements.count)
        try write(elements)
    }

    deinit { _ = regclReleaseMemObject(handle) }

    /// Copies `elements` into the buffer starting at element `offset` (blocking).
    public func write(_ elements: [Element], offset: Int = 0) throws(OpenCLError) {
        precondition(offset >= 0 && offset + elements.count <= count, "write beyond the buffer")
        guard !elements.isEmpty else { return }
        let stride = MemoryLayout<Element>.stride
        let status = elements.withUnsafeBytes { bytes in
            regclEnqueueWriteBuffer(context.queue, handle, cl_bool(CL_TRUE), offset * stride, bytes.count,
                                    bytes.baseAddress, nil)
        }
        try check(status, "clEnqueueWriteBuffer")
    }

    /// Copies the caller's `elements` into the buffer from element `offset`, straight from their
    /// memory (no host copy). Non-blocking when `blocking` is false: the memory must then stay
    /// valid until the queue has passed this command (a later blocking read or `finish`).
    public func write(from elements: UnsafeBufferPointer<Element>, offset: Int = 0, blocking: Bool = true) throws(OpenCLError) {
        precondition(offset >= 0 && offset + elements.count <= count, "write beyond the buffer")
        guard let base = elements.baseAddress, !elements.isEmpty else { return }
        let stride = MemoryLayout<Element>.stride
        try check(regclEnqueueWriteBuffer(context.queue, handle, cl_bool(blocking ? CL_TRUE : CL_FALSE), offset * stride,
                                          elements.count * stride, base, nil),
                  "clEnqueueWriteBuffer(\(elements.count * stride) bytes)")
    }

    /// Copies `destination.count` elements from element `offset` into the caller's memory
    /// (blocking, no host copy).
    public func read(into destination: UnsafeMutableBufferPointer<Element>, offset: Int = 0) throws(OpenCLError) {
        precondition(offset >= 0 && offset + destination.count <= count, "read beyond the buffer")
        guard let base = destination.baseAddress, !destination.isEmpty else { return }
        let stride = MemoryLayout<Element>.stride
        try check(regclEnqueueReadBuffer(context.queue, handle, cl_bool(CL_TRUE), offset * stride,
                                         destination.count * stride, base, nil),
                  "clEnqueueReadBuffer(\(destination.count * stride) bytes)")
    }

    /// Copies the buffer to the host (blocking). Reads `count` elements from `offset`.
    public func read(offset: Int = 0, count: Int? = nil) throws(OpenCLError) -> [Element] {
        let n = count ?? (self.count - offset)
        precondition(offset >= 0 && n >= 0 && offset + n <= self.count, "read beyond the buffer")
        guard n > 0 else { return [] }
        let stride = MemoryLayout<Element>.stride
        var status: cl_int = CL_SUCCESS
        let result = [Element](unsafeUninitializedCapacity: n) { storage, initialized in
            status = regclEnqueueReadBuffer(context.queue, handle, cl_bool(CL_TRUE), offset * stride, n * stride,
                                            UnsafeMutableRawPointer(storage.baseAddress), nil)
            initialized = status == CL_SUCCESS ? n : 0
        }
        try check(status, "clEnqueueReadBuffer")
        return result
    }

    /// Sets every element to `value` (queued; ordered before later commands on the same queue).
    public func fill(_ value: Element) throws(OpenCLError) {
        guard count > 0 else { return }
        var pattern = value
        let status = withUnsafeBytes(of: &pattern) { bytes in
            regclEnqueueFillBuffer(context.queue, handle, bytes.baseAddress, bytes.count, 0, byteCount, nil)
        }
        try check(status, "clEnqueueFillBuffer")
    }

    /// Copies this buffer into `destination` on the device (queued); returns the profiling event.
    public func copy(to destination: Buffer<Element>) throws(OpenCLError) -> Event {
        precondition(destination.count >= count, "copy beyond the destination")
        var event: cl_event?
        try check(regclEnqueueCopyBuffer(context.queue, handle, destination.handle, 0, 0, byteCount, &event),
                  "clEnqueueCopyBuffer")
        return Event(event!)
    }
}
