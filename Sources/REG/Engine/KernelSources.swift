import REGKernels

/// Program sources assembled from the embedded Kernels/*.cl files.
enum KernelSources {
    /// The embedded files by name ("common", "refinement", …).
    static let files: [String: String] = {
        var count = 0
        guard let table = reg_kernel_files(&count) else { return [:] }
        var files: [String: String] = [:]
        for entry in UnsafeBufferPointer(start: table, count: count) {
            files[String(cString: entry.name)] = String(cString: entry.source)
        }
        return files
    }()

    /// `common.cl` followed by `<name>.cl`, with #line markers so build logs name the right file.
    static func program(_ name: String) -> String {
        guard let body = files[name], let common = files["common"] else {
            preconditionFailure("kernel file \(name).cl is not embedded; add it to Sources/REGKernels/kernels.c")
        }
        return "#line 1 \"common.cl\"\n\(common)\n#line 1 \"\(name).cl\"\n\(body)"
    }
}
