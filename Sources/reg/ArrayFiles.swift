import Foundation
import REGNumPy

/// `.npy` arguments of the subcommands. Errors are `NumPyError`s, which name the file.
enum ArrayFiles {
    static func read(_ path: String) throws(NumPyError) -> NumPyArray {
        try NumPyArray(contentsOf: URL(fileURLWithPath: path))
    }

    static func write(_ array: NumPyArray, to path: String) throws(NumPyError) {
        try array.write(to: URL(fileURLWithPath: path))
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
