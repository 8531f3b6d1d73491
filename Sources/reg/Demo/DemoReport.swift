import Foundation
import REG

/// What `reg demo` prints and draws from a run.
enum DemoReport {
    /// Metrics before and after training, per class and overall.
    static func printMetrics(before: DemoEvaluation, after: DemoEvaluation) {
        print("held-out detection (boxes, COCO-style; P, R, F1 at score ½)  before → after training")
        func row(_ result: Metrics.Result, _ k: Int) -> Metrics.ClassResult? { result.classes.first { $0.classID == k } }
        for (k, name) in RoadScenes.detectionClasses.enumerated() {
            let b = row(before.detection, k + 1), a = row(after.detection, k + 1)
            print("  \(pad(name, 20)) AP50 \(percent(b?.ap50)) → \(percent(a?.ap50))   AP50-95 \(percent(b?.ap50to95)) → \(percent(a?.ap50to95))"
                  + "   F1 \(percent(b?.f1)) → \(percent(a?.f1))   (\(a?.groundTruths ?? 0) objects)")
        }
        print("  \(pad("mean", 20)) mAP50 \(percent(before.detection.map50)) → \(percent(after.detection.map50))   "
              + "mAP50-95 \(percent(before.detection.map50to95)) → \(percent(after.detection.map50to95))   "
              + "P \(percent(after.detection.precision))  R \(percent(after.detection.recall))  F1 \(percent(after.detection.f1))")
        print("held-out segmentation (IoU per class over non-ignored pixels)  before → after training")
        for (k, name) in RoadScenes.segmentationClasses.enumerated() {
            print("  \(pad(name, 20)) IoU \(percent(before.segmentationIoU[k])) → \(percent(after.segmentationIoU[k]))")
        }
        print("  \(pad("mean", 20)) mIoU \(percent(before.meanIoU)) → \(percent(after.meanIoU))")
    }

    static func percent(_ value: Double?) -> String { value.map { String(format: "%5.1f%%", 100 * $0) } ?? "    –" }

    static func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }

    /// The loss per step (total, detection, segmentation) as a self-contained SVG line chart.
    static func lossCurveSVG(_ records: [DemoTraining.Record]) -> String {
        let (width, height, margin) = (720.0, 360.0, 48.0)
        let series: [(String, String, (DemoTraining.Record) -> Double)] = [
            ("total", "#2f6db5", { $0.total }), ("detection", "#e07b39", { $0.detection }),
            ("segmentation", "#4c9a52", { $0.segmentation }),
        ]
        let top = records.map { max($0.total, $0.detection, $0.segmentation) }.max() ?? 1
        let steps = Double(max(records.count, 2) - 1)
        func x(_ i: Int) -> Double { margin + Double(i) / steps * (width - 2 * margin) }
        func y(_ v: Double) -> Double { height - margin - v / max(top, 1e-12) * (height - 2 * margin) }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(margin)" y="20">REG demo: loss per step</text>
            <line x1="\(margin)" y1="\(height - margin)" x2="\(width - margin)" y2="\(height - margin)" stroke="black"/>
            <line x1="\(margin)" y1="\(margin)" x2="\(margin)" y2="\(height - margin)" stroke="black"/>
            <text x="\(width / 2)" y="\(height - 12)" text-anchor="middle">step (1…\(records.count))</text>
            <text x="\(margin - 6)" y="\(margin)" text-anchor="end">\(String(format: "%.3g", top))</text>
            <text x="\(margin - 6)" y="\(height - margin)" text-anchor="end">0</text>

            """
        for (n, (name, color, value)) in series.enumerated() {
            let points = records.enumerated().map { String(format: "%.1f,%.1f", x($0.offset), y(value($0.element))) }
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(points.joined(separator: " "))\"/>\n"
            svg += "<text x=\"\(width - margin - 110)\" y=\"\(margin + 16 * Double(n))\" fill=\"\(color)\">\(name)</text>\n"
        }
        return svg + "</svg>\n"
    }
}
