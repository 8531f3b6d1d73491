// swift-tools-version: 6.1
// REG: the Refined Generalized Focal Loss on GPUs through OpenCL, with a float64 CPU reference.
import PackageDescription

let package = Package(
    name: "REG",
    products: [
        .library(name: "REG", targets: ["REG"]),
        .executable(name: "reg", targets: ["reg"]),
        // The C API (Sources/REGC/include/reg.h) as libregc.so: `regc`, because the product name
        // `reg` is the command-line tool's (SwiftPM ignores a second product of the same name).
        .library(name: "regc", type: .dynamic, targets: ["REGC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
    ],
    targets: [
        // Command-line tool.
        .executableTarget(
            name: "reg",
            dependencies: [
                "REG", "REGDiagnostics", "REGNumPy", "CPNG",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Operations (OpenCL routine + float64 CPU reference each), loss assembly, engine.
        .target(
            name: "REG",
            dependencies: ["REGRuntime", "REGKernels", .product(name: "Logging", package: "swift-log")]
        ),
        // `reg check` and `reg bench`: one descriptor per operation (random cases, benchmark sizes,
        // device and reference runs, judges, bytes), the error statistics and benchmark reports.
        .target(name: "REGDiagnostics", dependencies: ["REG", "REGRuntime"]),
        // .npy reading and writing, and .npz archives of them (ZIPFoundation).
        .target(name: "REGNumPy", dependencies: [.product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        // Swift owners over OpenCL: platforms, devices, contexts, queues, programs, buffers.
        .target(name: "REGRuntime", dependencies: ["COpenCL"]),
        // Kernel sources from Kernels/*.cl, embedded at build time with C23 #embed.
        .target(name: "REGKernels"),
        // OpenCL entry points loaded at run time with dlopen, plus error-code names.
        .target(name: "COpenCL", linkerSettings: [.linkedLibrary("dl")]),
        // PNG encoding through libpng, opened at run time with dlopen (reg demo's pictures).
        .target(name: "CPNG", linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("pthread")]),
        // A training loop over the step API (docs/usage.md); UsageExampleTests runs it.
        .executableTarget(name: "reg-training-loop-example", dependencies: ["REG"], path: "Examples/TrainingLoop"),
        // The C API: @_cdecl functions over Engine, declared by the hand-written include/reg.h.
        .target(name: "REGC", dependencies: ["REG", "CREGAPI"], exclude: ["include"]),
        // reg.h as a Clang module, so that REGC uses the header's own structs and constants.
        .systemLibrary(name: "CREGAPI", path: "Sources/REGC/include"),
        .testTarget(name: "REGTests", dependencies: ["REG", "REGDiagnostics", "REGNumPy", "REGRuntime"]),
    ]
)
