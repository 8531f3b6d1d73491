"""Trains a small torch model with reg.torch.REGLoss on synthetic detection + segmentation data, on
the CPU, and prints the loss falling.

    python python/examples/train_torch.py [--steps 300] [--device reference|auto|0]

The data: 4 images of 32×32 pixels per batch, each with one square object of class 1…3 at a random
place. Detection: one sample per pixel of a 8×8 grid of anchors (point = the cell's centre), its
target the class of the object covering it. Segmentation: the object's mask. A shared
convolutional backbone feeds a detection head (class logits per anchor) and a segmentation head
(per-pixel logits, softmax over background + 3 classes).
"""

from __future__ import annotations

import argparse
import time

import torch

import reg
import reg.torch as rt

CLASSES, SIZE, GRID = 3, 32, 8


def synthetic_batch(generator: torch.Generator, images: int = 4):
    """Images [B, 1, H, W], detection targets/points for a GRID×GRID anchor grid, boxes, labels."""
    x = torch.rand(images, 1, SIZE, SIZE, generator=generator) * 0.2
    labels = torch.zeros(images, SIZE, SIZE, dtype=torch.uint8)
    boxes = []
    for i in range(images):
        c = int(torch.randint(1, CLASSES + 1, (1,), generator=generator))
        s = 6 + 2 * c  # the class sets the size and the brightness
        x0, y0 = (int(v) for v in torch.randint(0, SIZE - s, (2,), generator=generator))
        x[i, 0, y0:y0 + s, x0:x0 + s] += 0.3 * c
        labels[i, y0:y0 + s, x0:x0 + s] = c
        boxes.append([i, c, x0, y0, x0 + s, y0 + s])
    cell = SIZE // GRID
    centres = torch.arange(GRID) * cell + cell / 2
    ys, xs = torch.meshgrid(centres, centres, indexing="ij")
    points = torch.stack([torch.arange(images).repeat_interleave(GRID * GRID).float(),
                          xs.flatten().repeat(images), ys.flatten().repeat(images)], dim=1)
    centre_labels = labels[:, (ys.long()), (xs.long())].reshape(-1).long()
    targets = torch.nn.functional.one_hot(centre_labels, CLASSES + 1)[:, 1:].float()
    return x, points, torch.tensor(boxes, dtype=torch.float32), targets, labels


class Model(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = torch.nn.Sequential(
            torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU())
        self.seg_head = torch.nn.Conv2d(16, CLASSES, 1)
        self.det_head = torch.nn.Conv2d(16, CLASSES, 1)
        torch.nn.init.constant_(self.det_head.bias, -2.0)  # the focal loss's prior on rare positives

    def forward(self, x: torch.Tensor):
        f = self.backbone(x)
        det = torch.nn.functional.avg_pool2d(self.det_head(f), SIZE // GRID)   # [B, C, GRID, GRID]
        det = det.permute(0, 2, 3, 1).reshape(-1, CLASSES)                     # [B·GRID², C], row-major cells
        return det, self.seg_head(f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--device", default="reference", help="REG's engine: reference, auto, an index")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = Model()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = rt.REGLoss(detection=reg.TaskSettings(normalizer="positives", delta=4.0),
                         segmentation=reg.TaskSettings(activation="softmax"), lambda_=1.0,
                         engine=reg.Engine(args.device))
    generator = torch.Generator().manual_seed(1)
    start, window = time.perf_counter(), []
    for step in range(1, args.steps + 1):
        x, points, boxes, targets, labels = synthetic_batch(generator)
        det_logits, seg_logits = model(x)
        loss = loss_fn(det_logits=det_logits, det_targets=targets, det_points=points, det_boxes=boxes,
                       det_images=x.shape[0], seg_logits=seg_logits, seg_labels=labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        window.append(loss.item())
        if step % 50 == 0 or step == 1:
            r = loss_fn.last_result
            print(f"step {step:4d}  L_total {sum(window) / len(window):.4f}  (L_det {r.detection.loss:.4f}, "
                  f"L_seg {r.segmentation.loss:.4f}, {r.backend})", flush=True)
            window = []
    print(f"{args.steps} steps in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
