"""BNN training speed: an MNIST epoch (50,000 images, batch 100) of the 3x4096 BNN
with pybitnet's kernels, beside the same network in float32 (pybitnet's float
layers on numpy, and PyTorch when installed: pybitnet.profiling's float baseline, fused
Adam), on the same thread count.

    python -m benchmarks.training_epoch [--threads 1 2] [--batches 20]

Each figure times `--batches` steps (after a warm-up) and scales to 500 steps.
"""
import argparse
import time

import pybitnet
from pybitnet import recipes

from .common import use_threads
from .bench_training import make_step

STEPS_PER_EPOCH = 50000 // 100


def seconds_per_epoch(step, batches):
    step()
    t0 = time.perf_counter()
    for _ in range(batches):
        step()
    return (time.perf_counter() - t0) / batches * STEPS_PER_EPOCH


def torch_step(hidden, threads):
    """The bnn recipe's MLP in PyTorch float32 (dropout, squared hinge, fused Adam):
    pybitnet.profiling's baseline, the one `pybitnet bench --training` and the speed table use."""
    from pybitnet.profiling import torch_training_step

    step = torch_training_step(recipes.recipe("bnn", hidden=hidden, batch_size=100))
    if step is None:
        return None
    step.torch.set_num_threads(threads)
    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=4096)
    args = parser.parse_args(argv)
    print(f"pybitnet {pybitnet.__version__} ({pybitnet.isa()}); MNIST epoch = {STEPS_PER_EPOCH} steps of 100, "
          f"784-{args.hidden}x3-10\n")
    print("| threads | pybitnet BNN (s/epoch) | pybitnet float32 (s/epoch) | PyTorch float32 (s/epoch) "
          "| BNN speed-up vs float |")
    print("|---|---|---|---|---|")
    for threads in args.threads:
        use_threads(threads)
        bnn = seconds_per_epoch(make_step("bnn", args.hidden, 100), args.batches)
        # The same network and optimizer (Adam) in float32: pybitnet's float layers on numpy.
        flt = seconds_per_epoch(make_step("float", args.hidden, 100, optimizer="adam", lr=0.003), args.batches)
        ts = torch_step(args.hidden, threads)
        tor = seconds_per_epoch(ts, args.batches) if ts else None
        best_float = min(v for v in (flt, tor) if v)
        print(f"| {threads} | {bnn:.1f} | {flt:.1f} | {f'{tor:.1f}' if tor else 'not installed'} "
              f"| {best_float / bnn:.2f}x |")


if __name__ == "__main__":
    main()
