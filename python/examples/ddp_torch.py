"""train_torch.py's model and data on two processes with DistributedDataParallel over gloo
(localhost, CPU). Each process takes half of every batch (two of its four images, with their
anchors, boxes and label maps); REGLoss all-reduces the counts and positives and runs the step with
the global M divided by the world size, so DDP's averaged gradients are those of the whole batch.

    python python/examples/ddp_torch.py [--steps 200] [--world 2]
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_torch as example  # noqa: E402


def worker(rank: int, world: int, port: int, steps: int) -> None:
    import reg
    import reg.torch as rt

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(example.Model())
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = rt.REGLoss(detection=reg.TaskSettings(normalizer="positives", delta=4.0),
                         segmentation=reg.TaskSettings(activation="softmax"), engine=reg.Engine("reference"))
    generator = torch.Generator().manual_seed(1)  # every rank draws the same global batch, keeps its share
    start, window = time.perf_counter(), []
    for step in range(1, steps + 1):
        x, points, boxes, targets, labels = example.synthetic_batch(generator)
        mine = list(range(rank, x.shape[0], world))                       # this rank's images
        anchors = torch.isin(points[:, 0].long(), torch.tensor(mine))
        det_logits, seg_logits = model(x[mine])
        # The shard's anchors keep the batch's image numbers; the boxes of every image and
        # det_images = the batch's image count let REG measure each anchor against its own image.
        shard_points = points[anchors]
        loss = loss_fn(det_logits=det_logits, det_targets=targets[anchors], det_points=shard_points,
                       det_boxes=boxes, det_images=x.shape[0], seg_logits=seg_logits, seg_labels=labels[mine])
        optimizer.zero_grad()
        loss.backward()  # DDP averages the gradients; REGLoss used M / world, so this is the global gradient
        optimizer.step()
        total = loss.detach().clone()
        dist.all_reduce(total)                     # Σ of the workers' losses = world · L_total
        window.append(total.item() / world)
        if rank == 0 and (step % 50 == 0 or step == 1):
            print(f"step {step:4d}  L_total {sum(window) / len(window):.4f}  (M_det, M_seg per worker: "
                  f"{loss_fn.last_normalizers})", flush=True)
            window = []
    if rank == 0:
        print(f"{steps} steps on {world} processes in {time.perf_counter() - start:.1f} s")
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--world", type=int, default=2)
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(worker, args=(args.world, port, args.steps), nprocs=args.world, join=True)


if __name__ == "__main__":
    main()
