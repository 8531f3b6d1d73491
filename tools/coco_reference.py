#!/usr/bin/env python3
"""pycocotools' side of the comparison with `reg metrics` (Tests/REGTests/MetricsCOCOTests.swift).

Reads the same .npy files as `reg metrics boxes|masks`, evaluates them with pycocotools' COCOeval
and prints JSON: `map50`, `map50_95`, and `per_class` keyed by class id with `map50`, `map50_95`,
`ap` (AP at each IoU threshold 0.50:0.05:0.95), `true_positives` and `false_positives` (the
predictions with a score >= the threshold, matched or not at IoU 0.5). A class without ground truth
has null APs (COCOeval's -1).

    coco_reference.py boxes --predictions P.npy --ground-truth G.npy
    coco_reference.py masks --predictions PM.npy --prediction-meta PMETA.npy \
                            --ground-truth GM.npy --ground-truth-meta GMETA.npy
    options: --max-detections N (default 100), --score-threshold T (default 0.5)

The COCO objects are built from dicts: every annotation is plain (iscrowd 0), boxes are
[x, y, w, h] with w = x2 - x1, masks are RLE from pycocotools.mask.encode. COCOeval runs with
maxDets = [N] and a single area range [0, inf), so that no annotation is ignored for its area.
Needs numpy and pycocotools (`pip install numpy pycocotools`).
"""
import argparse
import contextlib
import json
import sys

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def rows(path, columns):
    """A (rows, columns) float64 array; an empty file may be (0,) or (0, columns)."""
    array = np.load(path)
    if array.size == 0:
        return np.zeros((0, columns))
    if array.ndim != 2 or array.shape[1] != columns:
        sys.exit(f"{path}: must have shape (rows, {columns}), got {array.shape}")
    return array.astype(np.float64)


def box_annotations(path, columns):
    """[(image, class, score or None, extra fields)] of a boxes file."""
    result = []
    for row in rows(path, columns):
        image, category = int(row[0]), int(row[1])
        score = float(row[2]) if columns == 7 else None
        x1, y1, x2, y2 = (float(v) for v in row[-4:])
        width, height = x2 - x1, y2 - y1
        result.append((image, category, score, {"bbox": [x1, y1, width, height], "area": width * height}))
    return result


def mask_annotations(masks_path, meta_path, columns):
    """[(image, class, score or None, extra fields)] of a masks file and its meta rows."""
    masks = np.load(masks_path)
    meta = rows(meta_path, columns)
    if masks.size == 0:
        masks = np.zeros((0, 1, 1), np.uint8)
    if len(meta) != len(masks):
        sys.exit(f"{meta_path}: {len(meta)} rows for {len(masks)} masks")
    result = []
    for row, mask in zip(meta, masks):
        rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        extra = {"segmentation": rle, "area": float(mask_utils.area(rle)), "bbox": mask_utils.toBbox(rle).tolist()}
        result.append((int(row[0]), int(row[1]), float(row[2]) if columns == 3 else None, extra))
    return result, masks.shape[1:]


def coco_object(images, categories, annotations):
    """A COCO object built from dicts, as loading a JSON file would give."""
    coco = COCO()
    coco.dataset = {"images": images, "categories": categories, "annotations": annotations}
    coco.createIndex()
    return coco


def evaluate(predictions, ground_truth, iou_type, size, max_detections, score_threshold):
    image_ids = sorted({a[0] for a in predictions} | {a[0] for a in ground_truth})
    class_ids = sorted({a[1] for a in predictions} | {a[1] for a in ground_truth})
    height, width = size
    images = [{"id": i, "height": height, "width": width} for i in image_ids]
    categories = [{"id": c, "name": str(c)} for c in class_ids]

    def annotations(items):
        out = []
        for n, (image, category, score, extra) in enumerate(items):
            annotation = {"id": n + 1, "image_id": image, "category_id": category, "iscrowd": 0, **extra}
            if score is not None:
                annotation["score"] = score
            out.append(annotation)
        return out

    with contextlib.redirect_stdout(sys.stderr):  # COCOeval prints its progress
        truth = coco_object(images, categories, annotations(ground_truth))
        detections = coco_object(images, categories, annotations(predictions))
        evaluation = COCOeval(truth, detections, iou_type)
        evaluation.params.maxDets = [max_detections]
        evaluation.params.areaRng = [[0, float("inf")]]
        evaluation.params.areaRngLbl = ["all"]
        evaluation.evaluate()
        evaluation.accumulate()

    precision = evaluation.eval["precision"]  # (T, R, K, A, M), -1 where a class has no ground truth
    per_class = {}
    for k, class_id in enumerate(evaluation.params.catIds):
        curves = precision[:, :, k, 0, -1]
        aps = None if (curves < 0).any() else [float(np.mean(c)) for c in curves]
        true_positives = false_positives = 0
        for image_result in evaluation.evalImgs:
            if image_result is None or image_result["category_id"] != class_id:
                continue
            for score, match in zip(image_result["dtScores"], image_result["dtMatches"][0]):
                if score >= score_threshold:
                    true_positives += int(match > 0)
                    false_positives += int(match == 0)
        per_class[str(class_id)] = {
            "ap": aps,
            "map50": None if aps is None else aps[0],
            "map50_95": None if aps is None else float(np.mean(curves)),
            "true_positives": true_positives,
            "false_positives": false_positives,
        }
    valid = precision[:, :, :, 0, -1]
    ap50 = valid[0][valid[0] > -1]
    every = valid[valid > -1]
    return {
        "map50": float(np.mean(ap50)) if ap50.size else None,
        "map50_95": float(np.mean(every)) if every.size else None,
        "per_class": per_class,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=["boxes", "masks"])
    parser.add_argument("--predictions", required=True)
    parser.add_argument("--ground-truth", required=True)
    parser.add_argument("--prediction-meta")
    parser.add_argument("--ground-truth-meta")
    parser.add_argument("--max-detections", type=int, default=100)
    parser.add_argument("--score-threshold", type=float, default=0.5)
    args = parser.parse_args()
    if args.kind == "boxes":
        predictions = box_annotations(args.predictions, 7)
        ground_truth = box_annotations(args.ground_truth, 6)
        size, iou_type = (1, 1), "bbox"
    else:
        if not args.prediction_meta or not args.ground_truth_meta:
            parser.error("masks needs --prediction-meta and --ground-truth-meta")
        predictions, size = mask_annotations(args.predictions, args.prediction_meta, 3)
        ground_truth, _ = mask_annotations(args.ground_truth, args.ground_truth_meta, 2)
        iou_type = "segm"
    result = evaluate(predictions, ground_truth, iou_type, size, args.max_detections, args.score_threshold)
    json.dump(result, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
