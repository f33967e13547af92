"""Data-parallel PyTorch BNN on MNIST: pybitnet.torch modules under DistributedDataParallel (gloo).

    torchrun --nproc-per-node 2 examples/ddp_mnist_bnn.py --subset 20000 --epochs 1
    # several machines: torchrun --nnodes 2 --node-rank R --master-addr HOST --master-port 29500 ...

Each process trains on its shard of every global batch (DistributedSampler); DDP averages the
gradients of the real weights with gloo all-reduces during backward; rank 0 prints and saves.
Import pybitnet before torch (see docs/FRAMEWORKS.md, "Threads").
"""
import argparse
import os
import time

import pybitnet  # noqa: F401  (before torch: OpenMP threads wait passively)
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from pybitnet import data
from pybitnet import torch as pbt


def bnn(hidden):
    nn = torch.nn
    return nn.Sequential(pbt.BinaryLinear(784, hidden, bias=False), nn.BatchNorm1d(hidden), pbt.Sign(),
                         pbt.BinarizedLinear(hidden, hidden), nn.BatchNorm1d(hidden), pbt.Sign(),
                         pbt.BinarizedLinear(hidden, 10), nn.BatchNorm1d(10))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--subset", type=int, default=60000)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=100, help="global batch (split over the processes)")
    p.add_argument("--lr", type=float, default=0.003)
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: no limit)")
    p.add_argument("--save", help="rank 0 writes the state dict here")
    args = p.parse_args()

    dist.init_process_group("gloo")  # torchrun sets RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    torch.manual_seed(0)  # same initial weights on every rank (DDP also broadcasts rank 0's)

    ds = data.load_mnist()
    n = min(args.subset, len(ds.x_train))
    x = torch.from_numpy(ds.x_train[:n].reshape(n, -1)).float().div_(127.5).sub_(1)
    y = torch.from_numpy(ds.y_train[:n])
    train = TensorDataset(x, y)
    sampler = DistributedSampler(train, num_replicas=world, rank=rank, shuffle=True, seed=0)
    loader = DataLoader(train, batch_size=args.batch_size // world, sampler=sampler, drop_last=True)

    model = DDP(bnn(args.hidden))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps, t0 = 0, time.perf_counter()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        model.train()
        for xb, yb in loader:
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()  # gradients all-reduced (averaged) by DDP here
            opt.step()
            pbt.clip_weights(model)
            steps += 1
            if args.max_steps and steps >= args.max_steps:
                break
    seconds = time.perf_counter() - t0
    samples = steps * (args.batch_size // world) * world
    if rank == 0:
        net = model.module  # the bare module: DDP's forward would start a buffer broadcast only rank 0 joins
        net.eval()
        with torch.no_grad():
            xt = torch.from_numpy(ds.x_test.reshape(len(ds.x_test), -1)).float().div_(127.5).sub_(1)
            acc = (net(xt).argmax(1) == torch.from_numpy(ds.y_test)).float().mean().item()
        print(f"{world} processes: {steps} steps, {samples / seconds:.0f} samples/s, "
              f"test accuracy {100 * acc:.2f} %", flush=True)
        if args.save:
            torch.save(model.module.state_dict(), args.save)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
