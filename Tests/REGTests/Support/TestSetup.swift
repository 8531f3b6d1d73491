import Foundation

/// The package's root folder (tests that run tools, compilers or Python from the checkout).
enum PackageRoot {
    static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
}

/// Why a test's set-up (a venv, a compiled client) could not be made: the test fails with it.
struct SetupFailure: Error, CustomStringConvertible {
    let description: String
}
