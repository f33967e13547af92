"""Kernel timings of two source trees, A/B: median ms of each case at 1 and 2 threads.

    python scripts/ab_kernels.py measure TREE OUT.json   # one tree (its built extension); run
                                                        # A, B, A, B, ... in turns, other jobs paused
    python scripts/ab_kernels.py compare 'a_*.json' 'b_*.json'   # markdown: medians over the runs

Used for the kernel-architecture redesign (docs/KERNELS.md, "Redesign A/B"): each tree is a git
worktree with its extension built in place (`python setup.py build_ext --inplace`).
"""
import glob
import json
import sys
import time


def measure(tree, out):
    sys.path.insert(0, tree)
    import pybitnet as p
    import numpy as np
    assert p.__file__.startswith(tree), p.__file__
    rng = np.random.default_rng(0)

    def bits(m, k):
        return p.pack_signs(rng.standard_normal((m, k)).astype(np.float32))

    cases = {}
    for m, k, n in [(256, 4096, 4096), (1, 4096, 4096), (100, 1024, 1024)]:
        a, b = bits(m, k), bits(n, k)
        cases[f"xnor_gemm {m}x{k}x{n}"] = lambda a=a, b=b, k=k: p.xnor_gemm(a, b, k)
        th = rng.integers(-50, 50, n).astype(np.int32); fl = np.zeros(n, bool)
        cases[f"xnor_gemm_threshold {m}x{k}x{n}"] = lambda a=a, b=b, k=k, th=th, fl=fl: p.xnor_gemm_threshold(a, b, k, th, fl)
    for m, k, n in [(100, 4096, 4096), (1, 4096, 4096), (100, 784, 1024)]:
        x = rng.standard_normal((m, k)).astype(np.float32); g = rng.standard_normal((m, n)).astype(np.float32)
        w = bits(n, k)
        s, z = p.ternarize(rng.standard_normal((n, k)).astype(np.float32), stochastic=False, scale=1.0)
        cases[f"binary_weight_matmul {m}x{k}x{n}"] = lambda x=x, w=w, k=k: p.binary_weight_matmul(x, w, k)
        cases[f"binary_weight_matmul_t {m}x{k}x{n}"] = lambda g=g, w=w, k=k: p.binary_weight_matmul_t(g, w, k)
        cases[f"ternary_weight_matmul {m}x{k}x{n}"] = lambda x=x, s=s, z=z, k=k: p.ternary_weight_matmul(x, s, z, k)
        cases[f"ternary_weight_matmul_t {m}x{k}x{n}"] = lambda g=g, s=s, z=z, k=k: p.ternary_weight_matmul_t(g, s, z, k)
    for m, k, n in [(100, 1024, 1024), (100, 784, 1024)]:
        codes = p.quantize_pow2(rng.standard_normal((m, k)).astype(np.float32), seed=1)
        g = rng.standard_normal((m, n)).astype(np.float32)
        cases[f"shift_matmul {m}x{k}x{n}"] = lambda c=codes, g=g: p.shift_matmul(c, g)
        cases[f"quantize_pow2 {m}x{k}"] = lambda x=rng.standard_normal((m, k)).astype(np.float32): p.quantize_pow2(x, seed=1)
    cases["pack_signs 4096x4096"] = lambda x=rng.standard_normal((4096, 4096)).astype(np.float32): p.pack_signs(x)
    cases["pack_signs 1x4096"] = lambda x=rng.standard_normal((1, 4096)).astype(np.float32): p.pack_signs(x)
    # BNN MLP inference end to end (benchmarks/bnn_inference.py's model)
    from benchmarks.bnn_inference import build_model
    from pybitnet.inference import from_trained
    inf = from_trained(build_model(), input_scale=2 / 255, input_offset=-1.0)
    for m in (1, 100):
        px = rng.integers(0, 256, (m, 784), dtype=np.uint8)
        cases[f"bnn_mlp_uint8 batch{m}"] = lambda px=px: inf.logits(px)
        x = (px.astype(np.float32) * (2 / 255) - 1)
        cases[f"bnn_mlp_float batch{m}"] = lambda x=x: inf.logits(x)

    times = {}
    for th in (1, 2):
        p.set_num_threads(th)
        for name, fn in cases.items():
            for _ in range(3): fn()
            ts = []
            t_end = time.perf_counter() + 0.6
            while len(ts) < 7 or (time.perf_counter() < t_end and len(ts) < 200):
                t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
            times[f"{name} t{th}"] = float(np.median(ts)) * 1e3
    json.dump(times, open(out, "w"), indent=0)


def compare(pattern_a, pattern_b):
    import numpy as np

    a = [json.load(open(f)) for f in sorted(glob.glob(pattern_a))]
    b = [json.load(open(f)) for f in sorted(glob.glob(pattern_b))]
    print("| case | threads | before ms | after ms | after/before | after 2t/1t |")
    print("|---|---|---:|---:|---:|---:|")
    for k in a[0]:
        ma, mb = np.median([d[k] for d in a]), np.median([d[k] for d in b])
        name, th = k.rsplit(" ", 1)
        r21 = f"{mb / np.median([d[name + ' t1'] for d in b]):.2f}" if th == "t2" else ""
        print(f"| {name} | {th[1:]} | {ma:.3f} | {mb:.3f} | {mb / ma:.2f} | {r21} |")


if __name__ == "__main__":
    {"measure": measure, "compare": compare}[sys.argv[1]](*sys.argv[2:4])
