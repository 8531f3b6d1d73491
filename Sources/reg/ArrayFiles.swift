import Foundation
import REGNumPy

/// `.npy` inputs of the subcommands (outputs: `OutputFiles`). Errors are `NumPyError`s, which name the file.
enum ArrayFiles {
    /// Standard input's name in errors, for the path `-`.
    static let standardInput = "<stdin>"

    /// Reads a file, a FIFO or a device to its end; `-` is standard input.
    static func read(_ path: String) throws(NumPyError) -> NumPyArray {
        if path == "-" { return try NumPyArray(fileDescriptor: 0, source: standardInput) }
        return try NumPyArray(contentsOf: URL(fileURLWithPath: path))
    }

    /// Throws unless `array` has one of the `ranks`, naming the file and the shape found.
    static func requireRank(_ array: NumPyArray, _ ranks: Set<Int>, _ what: String) throws(NumPyError) {
        guard ranks.contains(array.rank) else {
            let expected = ranks.sorted().map(String.init).joined(separator: " or ")
            throw NumPyError(.shapeMismatch, file: array.source,
                             "\(what) must have rank \(expected), got shape \(array.shape)")
        }
    }
}

/// Bad data in an input file (not a usage error): exit status 1, the message names the file.
struct InputError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}

/// Turns an operation's `InvalidArgument` into the CLI's words: an argument that came from a file
/// becomes an `InputError` naming the file and the element (exit 1); one that came from an option
/// becomes a `ValidationError` naming the option (exit 64).
struct ArgumentSources {
    /// Operation argument name → the .npy file it was read from.
    var files: [String: String] = [:]
    /// Operation argument name → the command-line option that set it.
    var options: [String: String] = [:]

    func translate(_ error: InvalidArgument) -> any Error {
        let place = error.index.map { "[\($0.map(String.init).joined(separator: ", "))]" } ?? ""
        if let file = files[error.argument] {
            return InputError("\(file)\(place): \(error.reason)")
        }
        let option = options[error.argument] ?? error.argument
        return ValidationError("\(option)\(place): \(error.reason)")
    }

    /// Runs `body`, translating any `InvalidArgument` it throws.
    func run<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as InvalidArgument {
            throw translate(error)
        }
    }
}

import ArgumentParser
import REG
