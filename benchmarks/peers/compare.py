"""pybitnet vs Larq Compute Engine (LCE), side by side in one run.

    python -m benchmarks.peers.compare --lce-python /work/venv-lce/bin/python [--rounds 5] [--threads 1]
        [--between warm|sleep5|cold]

``--between`` says what precedes each timed call, on both sides: nothing (``warm``, back to
back), 5 ms asleep (``sleep5``, a server between requests) or reading a 128 MiB buffer
(``cold``: the weights come from DRAM). The ISA of pybitnet's side is the usual
``PYBITNET_ISA`` (e.g. ``PYBITNET_ISA=avx2`` for a CPU without AVX-512).

Runs in the project's own environment (no TensorFlow import here): LCE runs in
a subprocess (``lce_bench.py --serve``) under the Python of a separate venv
with benchmarks/peers/requirements-lce.txt. The two are interleaved: each
round times LCE (median of a few calls) and then pybitnet (median of as many),
model by model and batch by batch, so both see the same load; the table gives
the median over rounds. Prints a Markdown table (LCE ms, pybitnet ms, LCE /
pybitnet) and the LCE ops the converted models contain.

Rows: the BNN MLP 784-4096-4096-4096-10 (pybitnet's packed
``pybitnet.inference`` model from float32 inputs and from uint8 pixels, by
default and via the bit planes; LCE's model takes float32) and the CIFAR-10 BNN. The CNN's
pybitnet side comes from ``benchmarks.cnn_inference.build_random_cnn(batch)``:
a zero-argument callable that runs one end-to-end forward pass of `batch`
32x32x3 images (or a ``(model, x)`` pair, timed as ``model.logits(x)``).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import pybitnet  # before numpy (see pybitnet/__init__.py)
import numpy as np

from benchmarks.bnn_inference import build_model
from benchmarks.common import use_threads
from pybitnet.bench import median_time
from pybitnet.inference import from_trained

LCE_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lce_bench.py")
GOAL = 5.0  # pybitnet should be at least this many times faster than LCE


_EVICT = None


def evict_caches():
    """Read 128 MiB (as lce_bench.evict_caches): the next call finds its weights in DRAM."""
    global _EVICT
    if _EVICT is None:
        _EVICT = np.ones(32 << 20, np.float32)
    float(_EVICT.sum())


BETWEEN = {"warm": None, "sleep5": lambda: time.sleep(0.005), "cold": evict_caches}


def median_ms(fn, repeats, warmup=2, between="warm"):
    return 1e3 * median_time(fn, repeats, warmup, before=BETWEEN[between])


class LceServer:
    """lce_bench.py --serve in a subprocess: one request line, one JSON answer."""

    def __init__(self, python, xnnpack=False):
        self.proc = subprocess.Popen([python, LCE_SCRIPT, "--serve"] + (["--xnnpack"] if xnnpack else []), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        self.info = self._answer()

    def _answer(self):
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError(f"LCE subprocess ended without an answer (exit code {self.proc.wait()}); "
                           f"run {LCE_SCRIPT} by hand to see its error")

    def time(self, model, batch, threads, repeats, between="warm"):
        self.proc.stdin.write(f"{model} {batch} {threads} {repeats} {between}\n")
        self.proc.stdin.flush()
        return self._answer()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def pybitnet_mlp(batch):
    """The packed BNN MLP and its timed calls: float32 inputs, uint8 pixels (exact integer
    first layer, uint8_weight_matmul) and uint8 pixels through the bit planes."""
    inf = from_trained(build_model(), input_scale=2 / 255, input_offset=-1.0)
    px = np.random.default_rng(1).integers(0, 256, (batch, 784), dtype=np.uint8)
    x = pybitnet.data.scale_pm1(px)
    return {"float32": lambda: inf.logits(x), "uint8": lambda: inf.logits(px),
            "uint8_bitplanes": lambda: inf.logits(px, uint8_path="bitplanes")}


def pybitnet_cnn(batch):
    """The CNN hook: {"float32": callable} or None when pybitnet's side is not there yet."""
    try:
        from benchmarks.cnn_inference import build_random_cnn
    except ImportError:
        return None
    built = build_random_cnn(batch)
    if callable(built):
        return {"float32": built}
    model, x = built
    return {"float32": lambda: model.logits(x)}


def repeats_for(model, batch):
    return 3 if (model, batch) == ("cnn", 100) else 20


def measure(lce, cases, threads, rounds, between="warm"):
    """Median over rounds of each round's medians, LCE and pybitnet in turns."""
    results = {}
    for _ in range(rounds):
        for (model, batch), ours in cases.items():
            n = repeats_for(model, batch)
            row = lce.time(model, batch, threads, n, between)
            use_threads(threads)
            r = results.setdefault((model, batch), {"lce": [], "ops": row["lce_ops"], "all_ops": row["ops"]})
            r["lce"].append(row["median_ms"])
            for name, fn in (ours or {}).items():
                r.setdefault(name, []).append(median_ms(fn, n, between=between))
    return {key: {k: (float(np.median(v)) if isinstance(v, list) else v) for k, v in r.items()}
            for key, r in results.items()}


def cell(ours, lce):
    if ours is None:
        return "n/a", "n/a"
    return f"{ours:.3f}", f"{lce / ours:.1f}x{'' if lce / ours >= GOAL else ' (< 5x)'}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lce-python", required=True, help="python of a venv with requirements-lce.txt")
    p.add_argument("--lce-xnnpack", action="store_true", help="LCE interpreter with its XNNPack delegate")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--models", default="mlp,cnn")
    p.add_argument("--batches", default="100,1")
    p.add_argument("--between", choices=sorted(BETWEEN), default="warm",
                   help="before each timed call, both sides: nothing, 5 ms asleep, or a 128 MiB read")
    args = p.parse_args(argv)
    models, batches = args.models.split(","), [int(b) for b in args.batches.split(",")]

    use_threads(args.threads)
    cases = {}
    for model in models:
        for batch in batches:
            cases[model, batch] = pybitnet_mlp(batch) if model == "mlp" else pybitnet_cnn(batch)
    lce = LceServer(args.lce_python, args.lce_xnnpack)
    load_before = os.getloadavg()[0]
    try:
        results = measure(lce, cases, args.threads, args.rounds, args.between)
    finally:
        lce.close()
    load_after = os.getloadavg()[0]

    print(f"pybitnet (ISA {pybitnet.isa()}) vs LCE {lce.info.get('lce_version')} "
          f"(use_indirect_bgemm=True, use_xnnpack={args.lce_xnnpack}), {args.threads} thread(s), "
          f"calls {args.between}, median ms over {args.rounds} interleaved rounds; load average {load_before:.1f} -> {load_after:.1f}")
    print()
    print("| model | batch | LCE | pybitnet float32 in | LCE / pybitnet | pybitnet uint8 in | LCE / pybitnet "
          "| pybitnet uint8 bit planes | LCE / pybitnet |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (model, batch), r in results.items():
        cells = [c for name in ("float32", "uint8", "uint8_bitplanes") for c in cell(r.get(name), r["lce"])]
        print(f"| {model} | {batch} | {r['lce']:.3f} | " + " | ".join(cells) + " |")
    print()
    for model in models:
        r = next(r for (m, _), r in results.items() if m == model)
        print(f"LCE {model} ops: {r['all_ops']} (Lce ops: {r['ops']})")
    if "cnn" in models and cases.get(("cnn", batches[0])) is None:  # an import error of that module
        print("CNN: pybitnet's side failed to build (benchmarks.cnn_inference.build_random_cnn): LCE alone")


if __name__ == "__main__":
    main()
