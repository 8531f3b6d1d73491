import Foundation

/// A plain-text table printed row by row, columns padded to fixed widths (Swift padding: the
/// `%-16@` widths of `String(format:)` do not pad on Linux).
struct TextTable {
    enum Alignment { case left, right }

    struct Column {
        let title: String
        let width: Int
        let alignment: Alignment
    }

    let columns: [Column]

    init(_ columns: [(String, Int, Alignment)]) {
        self.columns = columns.map { Column(title: $0.0, width: $0.1, alignment: $0.2) }
    }

    var header: String { line(columns.map(\.title)) }

    /// One row; a cell longer than its column pushes the rest right rather than being cut.
    func line(_ cells: [String]) -> String {
        zip(columns, cells).map { column, cell in
            let padding = String(repeating: " ", count: max(0, column.width - cell.count))
            return column.alignment == .left ? cell + padding : padding + cell
        }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }
}

/// A number in at most `digits` significant digits: "0", "1.19e-07", "2.5".
func significant(_ x: Double, _ digits: Int = 3) -> String {
    x == 0 ? "0" : String(format: "%.\(digits)g", x)
}

func fixed(_ x: Double, _ decimals: Int) -> String {
    String(format: "%.\(decimals)f", x)
}
