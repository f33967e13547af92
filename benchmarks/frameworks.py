"""PyTorch route and data parallelism, measured side by side in one run (medians).

    python -m benchmarks.frameworks             # torch BinarizedLinear vs nn.Linear, zero-copy check
    python -m benchmarks.frameworks --parallel  # also: native trainer, 1 vs 2 MPI processes (samples/s)

BinarizedLinear's inference forward (weights packed once, input packed per call, XNOR-popcount)
is timed next to torch.nn.Linear float32 at the same thread count (torch.set_num_threads and
pybitnet.set_num_threads both n).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pybitnet  # before torch/numpy: passive OpenMP wait, short OpenBLAS spin (pybitnet/__init__.py)
import numpy as np

from pybitnet._arrays import as_array
from pybitnet.bench import median_time

# torch is imported inside the functions: asv imports every module of this package, and the
# suite must load without the optional torch extra.


def linear_rows(m=100, k=4096, n=4096):
    import torch

    from pybitnet import torch as pbt

    torch.manual_seed(0)
    x = torch.randn(m, k)
    bnn = pbt.BinarizedLinear(k, n).eval()
    ref = torch.nn.Linear(k, n, bias=False).eval()
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        pybitnet.set_num_threads(threads)
        with torch.no_grad():
            t_bnn = median_time(lambda: bnn(x))
            t_ref = median_time(lambda: ref(x))
        rows.append((threads, t_bnn, t_ref))
    return rows


def zero_copy():
    import torch

    from pybitnet import torch as pbt

    t = torch.randn(100, 4096)
    view = as_array(t, "x")
    bits = pbt.pack_signs(t)
    return {"input view shares memory": view.ctypes.data == t.data_ptr(),
            "bits view shares memory": pbt.ops._bits_np(bits, "bits").ctypes.data == bits.data_ptr(),
            "round trip t -> numpy -> torch.from_numpy": torch.from_numpy(t.numpy()).data_ptr() == t.data_ptr()}


def mpi_samples_per_s(n_procs, subset=20000, hidden=1024, batch=100):
    """Native trainer, BNN (bnn recipe, no dropout), one epoch of global batches of `batch`;
    samples/s from log.jsonl's train_time_s."""
    out = tempfile.mkdtemp(prefix="pbn-dp-")
    args = [sys.executable, "-m", "pybitnet.cli", "train", "--method", "bnn", "--hidden", str(hidden),
            "--epochs", "1", "--subset", str(subset), "--batch-size", str(batch), "--val-size", "1000", "--input-dropout", "0",
            "--hidden-dropout", "0", "--out", out, "--no-progress", "--test-every", "100"]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               PYBITNET_NUM_THREADS=str(max(1, (os.cpu_count() or 1) // n_procs)))
    if n_procs > 1:
        args = ["mpiexec", "-n", str(n_procs), "--oversubscribe", "--bind-to", "none", "--mca", "btl", "self,tcp",
                "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo"] + args
    subprocess.run(args, env=env, check=True, capture_output=True, timeout=900)
    with open(os.path.join(out, "log.jsonl")) as f:
        rec = json.loads(f.readline())
    shutil.rmtree(out)
    return (subset - 1000) / rec["train_time_s"], rec["val_error"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--parallel", action="store_true")
    args = p.parse_args()
    print("| threads | BinarizedLinear fwd (100x4096x4096) | nn.Linear float32 | speed-up |")
    print("|---|---|---|---|")
    for threads, t_bnn, t_ref in linear_rows():
        print(f"| {threads} | {1e3 * t_bnn:.2f} ms | {1e3 * t_ref:.2f} ms | {t_ref / t_bnn:.1f}x |")
    for what, ok in zero_copy().items():
        print(f"zero-copy: {what}: {ok}")
    if args.parallel:
        for batch in (100, 1000):
            for n in (1, 2, 1, 2):
                sps, val = mpi_samples_per_s(n, batch=batch)
                print(f"native trainer, global batch {batch}, {n} process(es): {sps:.0f} samples/s "
                      f"(val error {100 * val:.2f} %)", flush=True)


if __name__ == "__main__":
    main()
