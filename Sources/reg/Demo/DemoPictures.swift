import ArgumentParser
import CPNG
import Foundation
import REG
import REGNumPy

/// `reg demo --out DIR`: the loss curve as SVG and PNG pictures of the first held-out scene — the
/// scene, its label map, the distance map of one class (the rarest present), the refinement
/// weights g = σ(β(d − δ)) of that class, and the predicted label map. PNGs are encoded by libpng
/// (opened at run time); without it the pictures are skipped with a warning, the SVG is written.
enum DemoPictures {
    static let names = ["scene", "labels", "distance", "refinement", "prediction"]

    /// Creates the folder (and checks that it is one) before the training starts.
    static func prepare(folder: String) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw ValidationError("--out: \(folder) exists and is not a folder") }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw ValidationError("--out: cannot create \(folder): \((error as NSError).localizedDescription)")
            }
        }
        guard access(folder, W_OK) == 0 else { throw ValidationError("--out: \(folder) is not writable") }
    }

    static func write(folder: String, training: DemoTraining, heldOut: [RoadScenes.Scene], evaluation: DemoEvaluation,
                      engine: Engine) throws {
        try ByteOutput.write(Array(DemoReport.lossCurveSVG(training.records).utf8), to: "\(folder)/loss.svg")
        let scene = heldOut[0], side = training.options.side, plane = side * side
        let classes = RoadScenes.segmentationClasses.count
        // The rarest segmentation class present in the scene (by the paper's counts), else class 1.
        let present = Set(scene.labels.filter { $0 >= 1 && Int($0) <= classes }.map(Int.init))
        let shown = present.min { RoadScenes.segmentationCounts[$0 - 1] < RoadScenes.segmentationCounts[$1 - 1] } ?? 1
        let maps = try engine.distanceTransform(labels: scene.labels, batch: 1, height: side, width: side, classes: classes)
        let distance = Array(maps[(shown - 1) * plane..<shown * plane])
        // The run's refinement (the default one when the run had none, to show what it would weigh).
        let weights = try engine.refine(distances: distance, training.options.refinement ?? Refinement(beta: 0.5, delta: 8))

        let rgb = (0..<plane).flatMap { p in (0..<3).map { c in UInt8(max(0, min(255, scene.image[c * plane + p] * 255))) } }
        let finite = distance.filter(\.isFinite).max() ?? 1
        let pictures: [(String, [UInt8], Int)] = [
            ("scene", rgb, 3),
            ("labels", colored(scene.labels), 3),
            ("distance", distance.map { $0.isFinite ? UInt8(255 * (1 - min(1, $0 / max(finite, 1)))) : 0 }, 1),
            ("refinement", weights.map { UInt8(max(0, min(255, $0 * 255))) }, 1),
            ("prediction", colored(evaluation.firstPrediction), 3),
        ]
        for (name, pixels, channels) in pictures {
            do {
                try ByteOutput.write(try encode(pixels, width: side, height: side, channels: channels), to: "\(folder)/\(name).png")
            } catch let error as PNGError {
                printError("warning: \(folder)/\(name).png not written: \(error.message)")
            }
        }
    }

    /// A label map in the classes' palette: background dark grey, ignore white.
    static func colored(_ labels: [UInt8]) -> [UInt8] {
        labels.flatMap { label -> [UInt8] in
            switch label {
            case LabelMap.background: return [40, 40, 40]
            case LabelMap.ignore: return [255, 255, 255]
            default: return RoadScenes.appearance(100 + Int(label)).color.map { UInt8($0 * 255) }
            }
        }
    }

    struct PNGError: Error { let message: String }

    /// The PNG bytes of 8-bit pixels (libpng).
    static func encode(_ pixels: [UInt8], width: Int, height: Int, channels: Int) throws(PNGError) -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = pixels.withUnsafeBufferPointer {
            regpng_encode($0.baseAddress, Int32(width), Int32(height), Int32(channels), &out, &size, &message, message.count)
        }
        guard status == 0, let out else {
            throw PNGError(message: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        defer { free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}
