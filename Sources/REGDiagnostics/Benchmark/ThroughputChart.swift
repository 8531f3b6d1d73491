import Foundation

/// The throughput chart of a benchmark report as a self-contained SVG: one group of bars per
/// operation and size (one bar per series: the device in each variant, then the CPU reference),
/// GB/s on a log scale so both fit, and the device's measured copy bandwidth as a dashed line,
/// the ceiling a memory-bound kernel can reach.
public enum ThroughputChart {
    public static func svg(_ report: BenchmarkReport) -> String {
        let rows = report.rows.filter { $0.gigabytesPerSecond.isFinite && $0.gigabytesPerSecond > 0 }
        var groups: [String] = []
        for row in rows where !groups.contains(key(row)) { groups.append(key(row)) }
        var backends: [String] = []
        for row in rows where !backends.contains(row.series) { backends.append(row.series) }
        let colors = ["#2f6db5", "#e07b39", "#4c9a52", "#9b59b6"]

        // Log-scale range in whole decades covering the bars and the bandwidth line.
        let values = rows.map(\.gigabytesPerSecond) + [report.copyBandwidthGigabytesPerSecond].compactMap { $0 }
        var low = floor(log10(values.min() ?? 0.1)), high = ceil(log10(values.max() ?? 10))
        if !low.isFinite || !high.isFinite { (low, high) = (-1, 1) }
        if high <= low { high = low + 1 }

        // Groups share the plot width evenly, each wide enough for its label; the picture is wide
        // enough for the subtitle and the legend (about 6.5 px per character at 11 px).
        let barWidth = 18.0, plotLeft = 70.0, plotTop = 50.0, plotHeight = 280.0
        let subtitle = "\(report.device) · \(report.date)\(report.quick ? " · quick" : "")"
        let longestLabel = groups.flatMap { $0.split(separator: "\n") }.map(\.count).max() ?? 0
        let minimumGroupWidth = max(Double(max(backends.count, 1)) * barWidth + 26, Double(longestLabel) * 6.5 + 12)
        let textWidth = Double(([subtitle] + backends.map { "    " + $0 }).map(\.count).max() ?? 0) * 6.5
        let plotWidth = max(420, Double(groups.count) * minimumGroupWidth, textWidth - plotLeft)
        let groupWidth = plotWidth / Double(max(groups.count, 1))
        let groupGap = groupWidth - Double(backends.count) * barWidth
        let width = plotLeft + plotWidth + 20, height = plotTop + plotHeight + 60 + Double(backends.count) * 16
        func y(_ gbps: Double) -> Double { plotTop + plotHeight * (1 - (log10(gbps) - low) / (high - low)) }

        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            font-family="Helvetica, Arial, sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(plotLeft)" y="20" font-size="14" font-weight="bold">REG throughput (GB/s from stated bytes, log scale)</text>
            <text x="\(plotLeft)" y="36" fill="#555">\(escape(subtitle))</text>

            """
        for decade in Int(low)...Int(high) {
            let value = pow(10, Double(decade))
            let lineY = y(value)
            svg += "<line x1=\"\(plotLeft)\" y1=\"\(f(lineY))\" x2=\"\(f(plotLeft + plotWidth))\" y2=\"\(f(lineY))\" stroke=\"#ddd\"/>\n"
            svg += "<text x=\"\(f(plotLeft - 6))\" y=\"\(f(lineY + 4))\" text-anchor=\"end\">\(label(value))</text>\n"
        }
        svg += "<line x1=\"\(plotLeft)\" y1=\"\(plotTop)\" x2=\"\(plotLeft)\" y2=\"\(f(plotTop + plotHeight))\" stroke=\"#333\"/>\n"
        svg += "<text transform=\"translate(18 \(f(plotTop + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">GB/s</text>\n"

        for (g, group) in groups.enumerated() {
            let left = plotLeft + groupGap / 2 + Double(g) * groupWidth
            for (b, backend) in backends.enumerated() {
                guard let row = rows.first(where: { key($0) == group && $0.series == backend }) else { continue }
                let top = y(row.gigabytesPerSecond)
                let x = left + Double(b) * barWidth
                svg += "<rect x=\"\(f(x))\" y=\"\(f(top))\" width=\"\(f(barWidth - 2))\" height=\"\(f(plotTop + plotHeight - top))\" "
                    + "fill=\"\(colors[b % colors.count])\"><title>\(escape(row.series)): \(escape(row.name)): "
                    + "\(String(format: "%.3g", row.gigabytesPerSecond)) GB/s</title></rect>\n"
            }
            let center = left + Double(backends.count) * barWidth / 2
            let parts = group.split(separator: "\n", maxSplits: 1).map(String.init)
            for (line, text) in parts.enumerated() {
                svg += "<text x=\"\(f(center))\" y=\"\(f(plotTop + plotHeight + 16 + Double(line) * 13))\" text-anchor=\"middle\">\(escape(text))</text>\n"
            }
        }
        if let bandwidth = report.copyBandwidthGigabytesPerSecond, bandwidth > 0 {
            let lineY = y(bandwidth)
            svg += "<line x1=\"\(plotLeft)\" y1=\"\(f(lineY))\" x2=\"\(f(plotLeft + plotWidth))\" y2=\"\(f(lineY))\" stroke=\"#c0392b\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n"
            svg += "<text x=\"\(f(plotLeft + plotWidth - 4))\" y=\"\(f(lineY - 5))\" text-anchor=\"end\" fill=\"#c0392b\">device copy bandwidth \(String(format: "%.3g", bandwidth)) GB/s</text>\n"
        }
        for (b, backend) in backends.enumerated() {
            let legendY = plotTop + plotHeight + 48 + Double(b) * 16
            svg += "<rect x=\"\(plotLeft)\" y=\"\(f(legendY - 9))\" width=\"10\" height=\"10\" fill=\"\(colors[b % colors.count])\"/>\n"
            svg += "<text x=\"\(f(plotLeft + 16))\" y=\"\(f(legendY))\">\(escape(backend))</text>\n"
        }
        return svg + "</svg>\n"
    }

    private static func key(_ row: BenchmarkReport.Row) -> String { "\(row.operation)\n\(row.size)" }

    private static func f(_ x: Double) -> String { String(format: "%.1f", x) }

    private static func label(_ value: Double) -> String {
        value >= 1 ? String(format: "%.0f", value) : String(format: "%g", value)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
