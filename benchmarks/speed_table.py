"""Issue 16's table ("Speed, round two"), regenerated on the machine of the run, with
the ceilings measured on that machine beside it:

    python -m benchmarks.speed_table            # the full run (a few minutes)
    python -m benchmarks.speed_table --quick    # fewer rounds (about a minute or two)
    python -m benchmarks.speed_table --tiny     # tiny shapes: checks the machinery (seconds), judges nothing

Every ratio is timed side by side in this one process (medians of interleaved rounds:
pybitnet, its baseline, pybitnet, ...), so load from other jobs hits both sides alike; on a
shared machine absolute times are noisy, ratios less so. The ceilings come from three small
probes compiled with g++ -O3 into build/: scripts/xnor_loop_peak.cpp (the XNOR-popcount
loop on L1-resident data in the ISA pybitnet runs: vpopcntq with AVX-512 VPOPCNTDQ, AVX2's
vpshufb nibble counts), scripts/table_lookup_peak.cpp (the table kernels' lookup: one permute +
one add per lookup and nothing else, in the ISA pybitnet runs) and scripts/read_bandwidth.cpp
(one core reading a region once, warm or after a flush). Rows:

1. BNN 784-4096x3-10 MNIST training, batch 100, Adam: pybitnet's step vs the same net in
   PyTorch float32 (pybitnet.profiling.torch_training_step) on 1 thread, and pybitnet on 2
   threads vs 1. Steps are timed, not an epoch: an epoch is 500 steps (50,000 images).
2. BNN CIFAR-10 CNN training step, batch 50, vs the same CNN in PyTorch, 1 and 2 threads.
3. BNN MLP inference, batch 1, float32 input, weights warm (logits() called back to back);
   3b: the same from uint8 pixels, interleaved: the first layer is the only difference.
4. The same, weights cold: interleaved with numpy's float32 forward of the same net
   (benchmarks.bnn_inference), whose 141 MB of float weights evict the packed ones.
5. xnor_gemm 1x4096x4096 after a flush (pack_signs over a 128 MiB buffer on the same
   threads): GB/s of packed weights; beside it a 1x64x8 call after the same flush, the
   cost of a cold call before it reads a weight, and the weights' rate net of it.
6. xnor_gemm 256x4096x4096 vs the XNOR loop ceiling, rounds alternating with the probe;
   6b/6c (information, no target): the products of a training step's backward pass,
   binary_weight_matmul_t 100x4096x4096 (g @ sign(W)) and ternary_weight_matmul_t
   4096x100x4096 (the weight gradient after dropout), vs the table-lookup ceiling.
7. vs Larq Compute Engine: only with --lce-python (a venv with benchmarks/peers'
   requirements); otherwise not measured.
8. shift_matmul (100,1024,1024) and (100,4096,4096) vs numpy float32 x.T @ g.
"""
import argparse
import dataclasses
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import pybitnet  # before numpy: shortens OpenBLAS's idle spin (see pybitnet/__init__.py)
import numpy as np

from pybitnet import _bitops, bench, profiling, recipes
from pybitnet._hugepages import place_together
from pybitnet.bench import median_time

from .common import use_threads

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
EPOCH_STEPS = 50000 // 100  # MNIST: 50,000 training images (10,000 validate), batch 100
CIFAR_STEPS = 45000 // 50  # CIFAR-10: 45,000 training images, batch 50
FLUSH_MIB = 128  # 4x this kind of machine's L3 (32 MiB): what "cold" flushes with


@dataclasses.dataclass
class Plan:
    """Shapes and repeat counts of one run (full, quick or tiny)."""

    name: str
    mlp_hidden: int = 4096
    cnn_channels: int = 128
    cnn_hidden: int = 1024
    mlp_rounds: int = 21
    cnn_rounds: int = 7
    profile_steps: int = 7
    cnn_profile_steps: int = 5
    inference_hidden: int = 4096
    warm_repeats: int = 501
    cold_rounds: int = 41
    gemm_k: int = 4096
    gemm_m: int = 256
    gemm_rounds: int = 7
    table_batch: int = 100  # rows 6b/6c: the MNIST recipe's batch
    shift_shapes: Tuple[Tuple[int, int, int], ...] = ((100, 1024, 1024), (100, 4096, 4096))
    shift_repeats: int = 15
    flush_mib: int = FLUSH_MIB
    threads: Tuple[int, ...] = (1, 2)

    @property
    def judged(self) -> bool:
        """Only the issue's own shapes are held to its targets."""
        return self.name != "tiny"


PLANS = {
    "full": Plan("full"),
    "quick": Plan("quick", mlp_rounds=5, cnn_rounds=2, profile_steps=2, cnn_profile_steps=1, warm_repeats=201,
                  cold_rounds=11, gemm_rounds=3, shift_repeats=5),
    "tiny": Plan("tiny", mlp_hidden=64, cnn_channels=8, cnn_hidden=32, mlp_rounds=2, cnn_rounds=1, profile_steps=1,
                 cnn_profile_steps=1, inference_hidden=256, warm_repeats=21, cold_rounds=3, gemm_k=1024, gemm_m=16,
                 gemm_rounds=1, table_batch=16, shift_shapes=((16, 256, 256),), shift_repeats=3, flush_mib=8),
}


@dataclasses.dataclass
class Row:
    what: str
    measured: str
    target: str
    met: Optional[bool]  # None: not measured, or not judged (tiny shapes)
    limit: str


# -- machine and probes ----------------------------------------------------------------------------

def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_flags() -> set:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def load_average() -> str:
    try:
        return "/".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


# Probes that take the ISA pybitnet runs (PYBITNET_ISA included), so that each kernel is held to
# its own ISA's loop: their g++ flags per ISA.
KERNEL_PROBES = {"xnor_loop_peak": {"avx512": ["-mavx512f", "-mavx512vpopcntdq"], "avx2": ["-mavx2"]},
                 "table_lookup_peak": {"avx512": ["-mavx512f"], "avx2": ["-mavx2"]}}


def build_probe(name: str) -> Tuple[Optional[Path], str]:
    """(build/<name>-<isa>, "") compiled from scripts/<name>.cpp with g++ -O3 and the ISA's flags
    (rebuilt when the source is newer), or (None, why not). The kernel probes (KERNEL_PROBES)
    take the ISA pybitnet runs; the read probe takes the CPU's widest vectors."""
    flags = cpu_flags()
    if name in KERNEL_PROBES:
        tag = pybitnet.isa()
        isa = KERNEL_PROBES[name].get(tag)
        if isa is None:
            return None, f"{name} has no {tag} loop (AVX-512 and AVX2 only)"
    else:
        tag = "avx512" if "avx512f" in flags else "avx2" if "avx2" in flags else ""
        isa = {"avx512": ["-mavx512f"], "avx2": ["-mavx2"]}.get(tag)
        if isa is None:
            return None, "this CPU has neither AVX-512 nor AVX2"
    src, exe = ROOT / "scripts" / f"{name}.cpp", BUILD / f"{name}-{tag}"
    if exe.exists() and exe.stat().st_mtime >= src.stat().st_mtime:
        return exe, ""
    gxx = shutil.which("g++")
    if gxx is None:
        return None, "g++ not found"
    try:
        BUILD.mkdir(exist_ok=True)
        done = subprocess.run([gxx, "-O3", *isa, str(src), "-o", str(exe)], capture_output=True, text=True)
    except OSError as e:  # a read-only tree
        return None, f"could not build {exe}: {e}"
    if done.returncode:
        return None, f"g++ failed: {done.stderr.strip()[:200]}"
    return exe, ""


def probe_outputs(exe: Path, copies: int = 1) -> List[str]:
    """The stdout of `copies` runs of a probe started together (one per core when copies > 1)."""
    procs = [subprocess.Popen([str(exe)], stdout=subprocess.PIPE, text=True) for _ in range(copies)]
    outs = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode:
            raise RuntimeError(f"{exe} exited with {p.returncode}, printing {out!r}")
        outs.append(out)
    return outs


def xnor_peak(exe: Path, copies: int = 1) -> Tuple[float, str]:
    """T bit-MAC/s of the XNOR loop probe, summed over `copies` processes started together, and
    the loop it ran as the probe names it."""
    total, loop = 0.0, ""
    for out in probe_outputs(exe, copies):
        m = re.search(r"\(([\d.]+) T bit-MAC/s; (.+); checksum", out)
        if not m:
            raise RuntimeError(f"{exe} printed {out!r}")
        total, loop = total + float(m.group(1)), m.group(2)
    return total, loop


def table_peak(exe: Path, copies: int = 1) -> dict:
    """{"binary" | "ternary": (G sign-MAC/s summed over `copies` processes started together, the
    loop as the probe names it)} of the table-lookup probe."""
    rates: dict = {}
    for out in probe_outputs(exe, copies):
        found = re.findall(r"^(binary|ternary): ([\d.]+) G sign-MAC/s \(.*?; (.+)\)$", out, re.M)
        if len(found) != 2:
            raise RuntimeError(f"{exe} printed {out!r}")
        for kind, rate, loop in found:
            rates[kind] = (rates.get(kind, (0.0, ""))[0] + float(rate), loop)
    return rates


def read_bandwidth(exe: Path, nbytes: int, mode: str, passes: int, flush_mib: int) -> Tuple[float, float]:
    """(median ms, median GB/s) of one core reading `nbytes` once, warm or cold."""
    out = subprocess.run([str(exe), str(nbytes), mode, str(passes), str(flush_mib)], capture_output=True,
                         text=True, check=True).stdout
    ms, gbs = (float(re.search(rf"{key}=([\d.]+)", out).group(1)) for key in ("median_ms", "median_gbs"))
    return ms, gbs


# -- timing ----------------------------------------------------------------------------------------

def interleaved(cases: Sequence[Tuple[Callable[[], object], Callable[[], object]]], rounds: int,
                warmup: int = 1) -> List[float]:
    """Median seconds of each case's `run`, the cases timed in turns; each case's `prepare`
    (thread counts, a cache flush) runs untimed just before its `run`."""
    times: List[List[float]] = [[] for _ in cases]
    for r in range(warmup + rounds):
        for (prepare, run), ts in zip(cases, times):
            prepare()
            t = time.perf_counter()
            run()
            dt = time.perf_counter() - t
            if r >= warmup:
                ts.append(dt)
    return [float(np.median(ts)) for ts in times]


def threads_for(n: int, torch_step=None) -> Callable[[], None]:
    """A `prepare`: pybitnet and numpy's BLAS (and torch, when given) on n threads."""

    def prepare():
        use_threads(n)
        if torch_step is not None:
            torch_step.torch.set_num_threads(n)

    return prepare


def ms(seconds: float) -> str:
    return f"{1e3 * seconds:.3f}" if seconds < 0.01 else f"{1e3 * seconds:.1f}"


# -- rows ------------------------------------------------------------------------------------------

def _products(p) -> float:
    """The products, with the weight gradients fused into their update (the update counted in)."""
    return p["forward products"] + p["backward products"] + p["weight gradients + update"]


def second_core(peak_exe: Optional[Path]) -> str:
    """How much of a second core this process can get right now: two copies of the XNOR loop
    probe started together, against one alone (2.00x on an idle 2-core machine)."""
    if peak_exe is None:
        return "not measured (no XNOR loop probe)"
    solo = max(xnor_peak(peak_exe)[0], xnor_peak(peak_exe)[0])  # load only slows it: the best is the core's own
    pair = xnor_peak(peak_exe, 2)[0]
    return (f"two copies of the XNOR loop probe together ran {pair / solo:.2f}x the best of two runs alone "
            f"({pair:.2f} vs {solo:.2f} T bit-MAC/s; 2.00x = a free second core)")


def training_rows(plan: Plan, dataset: str, notes: List[str], peak_exe: Optional[Path]) -> List[Row]:
    """Rows 1a-1c (MNIST MLP) or 2 (CIFAR-10 CNN): pybitnet's step vs PyTorch float32's, interleaved.
    PyTorch runs twice: with Adam(fused=True) (its fastest CPU Adam: the target is judged on it)
    and with the default torch.optim.Adam (a for-loop over the tensors)."""
    cnn = dataset == "cifar10"
    overrides = dict(channels=plan.cnn_channels, hidden=plan.cnn_hidden) if cnn else dict(hidden=plan.mlp_hidden)
    r = recipes.recipe("bnn", dataset=dataset, **overrides)
    ours = profiling.training_step(r)
    fused = profiling.torch_training_step(r, fused=True)
    plain = profiling.torch_training_step(r, fused=False)
    rounds = plan.cnn_rounds if cnn else plan.mlp_rounds
    steps = plan.cnn_profile_steps if cnn else plan.profile_steps
    cases = [(threads_for(n), ours) for n in plan.threads]
    for prepare, run in cases:  # the thread planner's first calls (profiling.warmup_steps), as an epoch's first steps
        prepare()
        for _ in range(profiling.warmup_steps(pybitnet.get_num_threads())):
            run()
    if fused is not None:
        cases += [(threads_for(n, step), step) for step in (fused, plain) for n in plan.threads]
    t = iter(interleaved(cases, rounds))
    t_ours = {n: next(t) for n in plan.threads}
    t_fused = {n: next(t) for n in plan.threads} if fused is not None else {}
    t_plain = {n: next(t) for n in plan.threads} if fused is not None else {}
    # where a step's time goes (stage clocks), per thread count: the limit column
    prof, update = {}, {}
    for n in plan.threads:
        use_threads(n)  # numpy's BLAS too: the float layers' products use it
        prof[n] = profiling.training_profile("bnn", dataset, steps=steps, threads=n, torch_baseline=False,
                                             **overrides).median_seconds
        if fused is not None:
            with fused.threads(n):
                update[n] = median_time(fused.update, 5, 1)
    use_threads(max(plan.threads))
    if cnn:
        c, h = plan.cnn_channels, plan.cnn_hidden
        net = f"{c}C3-{c}C3-MP2-{2 * c}C3-{2 * c}C3-MP2-{4 * c}C3-{4 * c}C3-MP2-{h}FC-{h}FC-10"
    else:
        net = f"784-{plan.mlp_hidden}x3-10"
    steps_per_epoch = CIFAR_STEPS if cnn else EPOCH_STEPS
    n_weights = sum(v.numel() for v in fused.model.parameters()) / 1e6 if fused is not None else 0
    notes.append(f"Training, {dataset} BNN {net}, batch {r.batch_size}, {r.optimizer}"
                 f"{', dropout as the recipe' if r.input_dropout or r.hidden_dropout else ''}: medians of {rounds} "
                 f"rounds (after a warm-up round), each round one step of every case in turn; an epoch = "
                 f"{steps_per_epoch} steps, extrapolated from the step time, not run. PyTorch: the same net in float32 "
                 f"(hardtanh for sign, the same BN, dropout and loss; {n_weights:.1f} M weights), Adam(fused=True) "
                 f"and, in brackets, the default torch.optim.Adam.")
    rows = []
    for n in plan.threads:
        p = prof[n]
        products, rest = _products(p), sum(p.values()) - _products(p)
        if fused is None:
            rows.append(Row(f"{'2' if cnn else '1a'}. BNN {net} training step, {n} thread(s)",
                            f"pybitnet {ms(t_ours[n])} ms/step", "PyTorch comparison", None,
                            "PyTorch not installed: not measured"))
            continue
        ratio, ratio_plain = t_fused[n] / t_ours[n], t_plain[n] / t_ours[n]
        if cnn:
            what = f"2. BNN CIFAR-10 CNN training step (batch {r.batch_size}), {n} thread(s)"
            target, goal = ">= 3x PyTorch float32 training of the same net, same threads", 3.0
        elif n == 1:
            what = f"1a. BNN {net} MNIST training epoch (batch 100, Adam), 1 thread"
            target, goal = ">= 5x PyTorch float32 on 1 thread", 5.0
        else:
            what = f"1c. the same vs PyTorch, {n} threads"
            target, goal = "(no target: information)", None
        measured = (f"{ratio:.2f}x ({ratio_plain:.2f}x): pybitnet {ms(t_ours[n])} ms/step = "
                    f"{t_ours[n] * steps_per_epoch:.0f} s/epoch; PyTorch {ms(t_fused[n])} ms/step = "
                    f"{t_fused[n] * steps_per_epoch:.0f} s/epoch ({ms(t_plain[n])} ms/step)")
        need = f"{goal:.0f}x needs <= {ms(t_fused[n] / goal)} ms/step; " if goal else ""
        limit = (f"{need}pybitnet's stage clocks (medians of {steps} profiled steps): products {ms(products)} ms "
                 f"(forward {ms(p['forward products'])}, backward {ms(p['backward products'])}, weight gradients "
                 f"fused with their Adam update {ms(p['weight gradients + update'])}), the float rest "
                 f"{ms(rest)} ms (BN {ms(p['batch norm'])}, activations/pooling/dropout "
                 f"{ms(p['activations, pooling, dropout'])}, optimizer {ms(p['optimizer'])}); "
                 f"PyTorch's fused Adam update alone {ms(update[n])} ms; the products' table kernels against "
                 f"their ceiling: rows 6b and 6c")
        rows.append(Row(what, measured, target, (ratio >= goal) if (goal and plan.judged) else None, limit))
    if not cnn and len(plan.threads) > 1:
        n1, n2 = plan.threads[0], plan.threads[-1]
        scale = t_ours[n1] / t_ours[n2]
        p1, p2 = prof[n1], prof[n2]
        r1, r2 = sum(p1.values()) - _products(p1), sum(p2.values()) - _products(p2)
        limit = (f"stage clocks {n1} -> {n2} threads: products {ms(_products(p1))} -> {ms(_products(p2))} ms "
                 f"({_products(p1) / _products(p2):.2f}x), the float rest {ms(r1)} -> {ms(r2)} ms ({r1 / r2:.2f}x); "
                 f"the second core right now: {second_core(peak_exe)}")
        rows.append(Row(f"1b. the same, {n2} threads vs pybitnet's own {n1} thread",
                        f"{scale:.2f}x ({ms(t_ours[n2])} vs {ms(t_ours[n1])} ms/step)",
                        f">= 1.7x pybitnet's own {n1}-thread speed", (scale >= 1.7) if plan.judged else None, limit))
    return rows


def inference_rows(plan: Plan, notes: List[str], bw_exe: Optional[Path]) -> List[Row]:
    """Rows 3 (weights warm) and 4 (cold: interleaved with numpy's float32 forward)."""
    from pybitnet.inference import from_trained

    from .bnn_inference import FloatForward, build_model
    from .bnn_inference_stages import stages

    h = plan.inference_hidden
    model = build_model(hidden=h)
    inf = from_trained(model, input_scale=2 / 255, input_offset=-1.0)
    ref = FloatForward(model)
    x = pybitnet.data.scale_pm1(np.random.default_rng(1).integers(0, 256, (1, 784), dtype=np.uint8))
    wbytes = inf.weight_bytes()
    net = f"784-{h}x3-10"
    notes.append(f"Inference, BNN MLP {net}, batch 1, float32 input: {wbytes / 1e6:.2f} MB of packed weights. "
                 f"Warm: median of {plan.warm_repeats} back-to-back logits() calls. Cold: medians of "
                 f"{plan.cold_rounds} rounds alternating logits() with numpy's float32 forward of the same net "
                 f"({sum(w.nbytes for w in ref.w_t) / 1e6:.0f} MB of weights).")
    warm_floor = cold_floor = None
    if bw_exe is not None:
        warm_floor = read_bandwidth(bw_exe, wbytes, "warm", 201, plan.flush_mib)
        cold_floor = read_bandwidth(bw_exe, wbytes, "cold", 21, plan.flush_mib)
    rows = []
    for n in plan.threads:
        use_threads(n)
        warm = median_time(lambda: inf.logits(x), plan.warm_repeats, 20)
        parts = stages(inf, x, plan.warm_repeats)  # ms: first layer, fused layers..., last layer, epilogue
        kernels = float(np.sum(parts))
        limit = (f"its stages alone sum to {kernels:.3f} ms (first layer {parts[0]:.3f}, "
                 + ", ".join(f"{v:.3f}" for v in parts[1:-2]) + f" fused, last {parts[-2]:.3f}, "
                 f"epilogue {parts[-1]:.3f})")
        if warm_floor:
            limit += (f"; one core reads the {wbytes / 1e6:.2f} MB warm in {warm_floor[0]:.3f} ms "
                      f"({warm_floor[1]:.0f} GB/s, read_bandwidth warm)")
        rows.append(Row(f"3. BNN MLP {net} inference, batch 1, float32 input, weights warm, {n} thread(s)",
                        f"{1e3 * warm:.3f} ms", "<= 0.10 ms", (warm <= 1e-4) if plan.judged else None, limit))
    px = np.random.default_rng(1).integers(0, 256, (1, 784), dtype=np.uint8)
    for n in plan.threads:
        use_threads(n)
        # rounds of back-to-back calls, float32 then uint8: both see the same load
        repeats = max(1, plan.warm_repeats // 10)
        t_f, t_u = interleaved([(lambda: None, lambda: [inf.logits(x) for _ in range(repeats)]),
                                (lambda: None, lambda: [inf.logits(px) for _ in range(repeats)])], 10, warmup=1)
        t_f, t_u = t_f / repeats, t_u / repeats
        rows.append(Row(f"3b. the same from float32 against uint8 pixels (the first layer is the only "
                        f"difference), {n} thread(s)", f"{1e3 * t_f:.3f} vs {1e3 * t_u:.3f} ms ({t_f / t_u:.2f}x)",
                        "float32 first layer as fast as uint8", (t_f <= t_u) if plan.judged else None,
                        f"mean per call of {repeats} back-to-back calls, median of 10 rounds alternating the two"))
    for n in plan.threads:
        use_threads(n)
        t_np, t_ours = interleaved([(lambda: None, lambda: ref(x)), (lambda: None, lambda: inf.logits(x))],
                                   plan.cold_rounds, warmup=2)
        limit = f"numpy float32 {ms(t_np)} ms in the same rounds ({t_np / t_ours:.0f}x slower)"
        if cold_floor:
            limit += (f"; one core reads the {wbytes / 1e6:.2f} MB cold in {cold_floor[0]:.3f} ms "
                      f"({cold_floor[1]:.0f} GB/s, read_bandwidth cold)")
        rows.append(Row(f"4. the same, weights cold (interleaved with numpy), {n} thread(s)",
                        f"{1e3 * t_ours:.3f} ms", "<= 0.30 ms from float32",
                        (t_ours <= 3e-4) if plan.judged else None, limit))
    return rows


def gemm_rows(plan: Plan, notes: List[str], peak_exe: Optional[Path], bw_exe: Optional[Path],
              peak_note: str, bw_note: str) -> List[Row]:
    """Rows 5 (xnor_gemm 1xKxK after a flush: GB/s of packed weights) and 6 (MxKxK vs the XNOR loop)."""
    isa, k = pybitnet.isa(), plan.gemm_k
    w = bench.random_pm((k, k), 2)
    b = pybitnet.pack_signs(w)
    a1 = pybitnet.pack_signs(bench.random_pm((1, k), 1))
    flush = np.ones(((plan.flush_mib << 20) // 4096, 1024), np.float32)
    (b_huge,) = place_together([b])
    tiny_a, tiny_b = pybitnet.pack_signs(bench.random_pm((1, 64), 3)), pybitnet.pack_signs(bench.random_pm((8, 64), 4))
    rows = []
    cold_floor = read_bandwidth(bw_exe, b.nbytes, "cold", 21, plan.flush_mib) if bw_exe else None
    notes.append(f"xnor_gemm: the packed weights of {k}x{k} are {b.nbytes / 2**20:.1f} MiB. Cold: before each timed "
                 f"call, pack_signs reads a {plan.flush_mib} MiB float32 buffer on the same threads (evicting L2 "
                 f"of every core used and L3); median of {plan.cold_rounds}. A 1x64x8 call after the same flush, timed in the "
                 f"same rounds, is what a cold call costs before it reads any weight (the limit column subtracts it).")
    for n in plan.threads:
        use_threads(n)
        limit = (f"one core reads the same {b.nbytes / 2**20:.1f} MiB cold at {cold_floor[1]:.1f} GB/s "
                 f"({cold_floor[0]:.3f} ms, read_bandwidth cold)") if cold_floor else f"not measured: {bw_note}"
        # As pack_signs returns them, then placed as a packed model holds them (pybitnet/_hugepages.py).
        # Beside each, a 1x64x8 call after the same flush: what a call costs cold before any weight
        # is read (interpreter, binding, allocation, the kernel's code; ~25 us on a Zen 4 against 2 warm).
        for what, bb in ((f"5. xnor_gemm 1x{k}x{k}, weights cold", b),
                         ("5. the same, weights on 2 MiB huge pages (as a packed model holds them)", b_huge)):
            t, t0 = interleaved([(lambda: _bitops.pack_signs(flush, -1, isa),
                                  lambda: _bitops.xnor_gemm(a1, bb, k, isa)),
                                 (lambda: _bitops.pack_signs(flush, -1, isa),
                                  lambda: _bitops.xnor_gemm(tiny_a, tiny_b, 64, isa))], plan.cold_rounds, warmup=2)
            gbs = b.nbytes / t / 1e9
            net = (f"; a 1x64x8 call after the same flush took {1e3 * t0:.3f} ms (the cold call path): the weights "
                   f"alone streamed at about {b.nbytes / (t - t0) / 1e9:.1f} GB/s (the difference of the medians)") if t > t0 else ""
            rows.append(Row(f"{what}, {n} thread(s)", f"{gbs:.1f} GB/s ({1e3 * t:.3f} ms)",
                            ">= 25 GB/s of packed weights", (gbs >= 25) if plan.judged else None, limit + net))
    m = plan.gemm_m
    a = pybitnet.pack_signs(bench.random_pm((m, k), 1))
    macs = m * k * k
    for n in plan.threads:
        use_threads(n)
        gemm_t, peaks, peak_loop = [], [], ""
        for _ in range(plan.gemm_rounds):  # alternate: the probe, then the kernel
            if peak_exe is not None:
                probe_rate, peak_loop = xnor_peak(peak_exe, n)
                peaks.append(probe_rate)
            gemm_t.append(median_time(lambda: _bitops.xnor_gemm(a, b, k, isa), 5, 1))
        # best round of each: load only slows either, and the probe's 0.1 s runs are preempted more
        # often than the kernel's ms calls, so medians would flatter the kernel
        t = float(np.min(gemm_t))
        rate = macs / t / 1e12
        if not peaks:
            rows.append(Row(f"6. xnor_gemm {m}x{k}x{k}, {n} thread(s)", f"{rate:.2f} T bit-MAC/s", ">= 90 % of the "
                            "XNOR loop ceiling", None, f"ceiling not measured: {peak_note}"))
            continue
        peak = float(np.max(peaks))
        share = rate / peak
        copies = "one copy" if n == 1 else f"{n} copies at once, summed"
        rows.append(Row(f"6. xnor_gemm {m}x{k}x{k}, {n} thread(s)",
                        f"{100 * share:.1f} % ({rate:.2f} T bit-MAC/s, {1e3 * t:.2f} ms)",
                        ">= 90 % of scripts/xnor_loop_peak.cpp" + ("" if n == 1 else " (information)"),
                        (share >= 0.9) if (plan.judged and n == 1) else None,
                        f"xnor_loop_peak ({copies}, L1-resident, {peak_loop}): {peak:.2f} T bit-MAC/s; "
                        f"the best of {plan.gemm_rounds} rounds alternating probe and kernel (kernel: median "
                        f"of 5 calls per round), the probe's median {float(np.median(peaks)):.2f}"))
    return rows


def table_rows(plan: Plan, notes: List[str], table_exe: Optional[Path], table_note: str) -> List[Row]:
    """Rows 6b and 6c (information): the table kernels behind every training step's backward
    products against the table-lookup probe, rounds alternating probe and kernel as row 6."""
    isa, k, batch = pybitnet.isa(), plan.gemm_k, plan.table_batch
    rng = np.random.default_rng(5)
    g = rng.standard_normal((batch, k)).astype(np.float32)  # a batch's output gradients
    w_bits = pybitnet.pack_signs(bench.random_pm((k, k), 6))  # a layer's weights
    g_t = rng.standard_normal((k, batch)).astype(np.float32)  # a weight gradient's g: one row per output
    kept = rng.random((batch, k)) < 0.5  # the recipe's hidden dropout
    signs = np.where(rng.random((batch, k)) < 0.5, -1.0, 1.0).astype(np.float32)
    sign_bits, nonzero_bits = pybitnet.weight_matmul.pack_ternary(np.where(kept, signs, 0))
    cases = [("binary", f"6b. binary_weight_matmul_t {batch}x{k}x{k} (g @ sign(W): a BNN layer's input gradient)",
              lambda: _bitops.binary_weight_matmul_t(g, w_bits, k, isa)),
             ("ternary", f"6c. ternary_weight_matmul_t {k}x{batch}x{k} (a layer's weight gradient after dropout: "
                         "x.T @ g with x ternary)",
              lambda: _bitops.ternary_weight_matmul_t(g_t, sign_bits, nonzero_bits, k, isa))]
    macs = batch * k * k
    rows = []
    for n in plan.threads:
        use_threads(n)
        kernel_t = {kind: [] for kind, _, _ in cases}
        peaks: List[dict] = []
        for _ in range(plan.gemm_rounds):  # alternate: the probe, then the kernels
            if table_exe is not None:
                peaks.append(table_peak(table_exe, n))
            for kind, _, call in cases:
                kernel_t[kind].append(median_time(call, 3, 1))
        copies = "one copy" if n == 1 else f"{n} copies at once, summed"
        for kind, what, _ in cases:
            t = float(np.min(kernel_t[kind]))  # best rounds of each, as row 6
            rate = macs / t / 1e9
            measured = f"{rate:.1f} G sign-MAC/s, {1e3 * t:.2f} ms"
            if peaks:
                peak = max(p[kind][0] for p in peaks)
                measured = f"{100 * rate / peak:.1f} % ({measured})"
                limit = (f"table_lookup_peak ({copies}, {peaks[0][kind][1]}): {peak:.1f} G sign-MAC/s; "
                         f"the best of {plan.gemm_rounds} rounds alternating probe and kernel (kernel: median of 3 "
                         f"calls per round)")
            else:
                limit = f"ceiling not measured: {table_note}"
            rows.append(Row(f"{what}, {n} thread(s)", measured, "(information: the products behind rows 1a and 2, "
                            "against the table-lookup ceiling)", None, limit))
    notes.append("Rows 6b/6c: the kernels' share of the table-lookup probe, whose loop issues only the permute and "
                 "the add of each lookup (AVX2: tables and indices in registers; AVX-512: each index loaded from L1); "
                 "a kernel also loads its tables and indices, builds them from g and W, and streams its output.")
    return rows


def shift_rows(plan: Plan, notes: List[str]) -> List[Row]:
    """Row 8: shift_matmul vs numpy float32 x.T @ g, side by side on the same threads."""
    isa = pybitnet.isa()
    notes.append("shift_matmul: codes = quantize_pow2 of standard-normal inputs, float variant; baseline numpy "
                 f"float32 x.T @ g on the same threads; medians of {plan.shift_repeats} interleaved pairs.")
    found = {}
    for n in plan.threads:
        for shape in plan.shift_shapes:
            found[n, shape] = bench.measure("shift_matmul", shape, isa, n, plan.shift_repeats)
    rows = []
    for (n, shape), r in found.items():
        measured = f"{r.speedup:.2f}x ({ms(r.seconds)} vs numpy {ms(r.baseline_seconds)} ms)"
        variant = _bitops.select_variant("shift_matmul", shape[0], shape[2], shape[1], isa)
        limit = (f"{variant}: per 16 products one integer add on g's exponent field (vpaddd) and one vaddps "
                 "(AVX-512; the AVX2 table kernel: one load + one vaddps), vs one FMA per 16 MACs for numpy's GEMM")
        one = found.get((plan.threads[0], shape))
        if n != plan.threads[0] and one and one.baseline_seconds < r.baseline_seconds:
            limit += (f"; numpy was slower on {n} threads than on {plan.threads[0]} ({ms(r.baseline_seconds)} vs "
                      f"{ms(one.baseline_seconds)} ms): against its {plan.threads[0]}-thread time this is "
                      f"{one.baseline_seconds / r.seconds:.2f}x")
        rows.append(Row(f"8. shift_matmul {shape}, {n} thread(s)", measured, ">= 1.0x vs numpy float32",
                        (r.speedup >= 1.0) if plan.judged else None, limit))
    return rows


def lce_row(lce_python: Optional[str], quick: bool) -> Tuple[Row, str]:
    what, target = "7. end to end vs Larq Compute Engine (benchmarks/peers)", "pybitnet >= 5x LCE (peers/compare.GOAL)"
    if not lce_python or not Path(lce_python).exists():
        return Row(what, "not measured", target, None,
                   "no Larq Compute Engine build here (pass --lce-python with a venv of "
                   "benchmarks/peers/requirements-lce.txt; nothing is downloaded by this script)"), ""
    done = subprocess.run([sys.executable, "-m", "benchmarks.peers.compare", "--lce-python", lce_python,
                           "--rounds", "2" if quick else "5"], capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        return Row(what, "not measured", target, None, f"benchmarks.peers.compare failed: "
                   f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}"), ""
    return Row(what, "see the LCE table below", target, None, "benchmarks.peers.compare, side by side"), done.stdout


# -- the table -------------------------------------------------------------------------------------

def verdict(met: Optional[bool], judged: bool) -> str:
    if met is None:
        return "-" if judged else "n/a (tiny)"
    return "yes" if met else "**no**"


def format_table(rows: Sequence[Row], judged: bool = True) -> str:
    lines = ["| what | measured now | target | met? | the limit / ceiling measured |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.what} | {r.measured} | {r.target} | {verdict(r.met, judged)} | {r.limit} |")
    return "\n".join(lines)


def run(plan: Plan, lce_python: Optional[str] = None, progress: Callable[[str], None] = lambda s: None):
    """(header lines, rows, notes, extra output) of one run."""
    t0 = time.time()
    load_before = load_average()
    peak_exe, peak_note = build_probe("xnor_loop_peak")
    bw_exe, bw_note = build_probe("read_bandwidth")
    table_exe, table_note = build_probe("table_lookup_peak")
    core_before = second_core(peak_exe)
    notes: List[str] = []
    rows: List[Row] = []
    progress("training: MNIST MLP")
    rows += training_rows(plan, "mnist", notes, peak_exe)
    progress("training: CIFAR-10 CNN")
    rows += training_rows(plan, "cifar10", notes, peak_exe)
    progress("inference: BNN MLP, batch 1")
    rows += inference_rows(plan, notes, bw_exe)
    progress("xnor_gemm")
    rows += gemm_rows(plan, notes, peak_exe, bw_exe, peak_note, bw_note)
    progress("table kernels")
    rows += table_rows(plan, notes, table_exe, table_note)
    lce, extra = lce_row(lce_python, plan.name != "full")
    rows.append(lce)
    progress("shift_matmul")
    rows += shift_rows(plan, notes)
    rows.sort(key=lambda r: r.what.split(".")[0])  # the order
    if bw_exe is None:
        notes.append(f"read_bandwidth probe not built: {bw_note}")
    if peak_exe is None:
        notes.append(f"xnor_loop_peak probe not built: {peak_note}")
    if table_exe is None:
        notes.append(f"table_lookup_peak probe not built: {table_note}")
    try:
        import torch

        torch_version = f"torch {torch.__version__}"
    except ImportError:
        torch_version = "torch not installed"
    header = [f"CPU: {cpu_name()} ({os.cpu_count()} logical CPUs); pybitnet {pybitnet.__version__}, "
              f"pybitnet.isa() = {pybitnet.isa()}; numpy {np.__version__}, {torch_version}; plan {plan.name}",
              f"The machine was shared with other jobs: load average {load_before} (1/5/15 min) at the start, "
              f"{load_average()} at the end, {time.time() - t0:.0f} s in all. Ratios are side by side in one "
              "process; absolute times carry the load.",
              f"The second core: at the start {core_before}; at the end {second_core(peak_exe)}."]
    return header, rows, notes, extra


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="fewer rounds (a minute or two)")
    mode.add_argument("--tiny", action="store_true", help="tiny shapes: checks the machinery, judges nothing")
    p.add_argument("--lce-python", default=os.environ.get("PYBITNET_LCE_PYTHON"),
                   help="python of a venv with benchmarks/peers/requirements-lce.txt (row 7); default "
                        "$PYBITNET_LCE_PYTHON, else row 7 is not measured")
    p.add_argument("--out", help="also write the Markdown to this file")
    args = p.parse_args(argv)
    plan = PLANS["tiny" if args.tiny else "quick" if args.quick else "full"]
    before = pybitnet.get_num_threads()
    try:
        header, rows, notes, extra = run(plan, args.lce_python,
                                         progress=lambda s: print(f"... {s}", file=sys.stderr, flush=True))
    finally:
        pybitnet.set_num_threads(before)
    text = "\n".join(["## Speed round two: targets", "", "\n\n".join(header), "", format_table(rows, plan.judged), "",
                      *(f"* {n}" for n in notes)] + (["", extra] if extra else []))
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
