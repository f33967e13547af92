"""Does importing torch before pybitnet slow a pybitnet.torch training step? Measured, not assumed.

`import pybitnet` before torch sets OMP_WAIT_POLICY=PASSIVE (torch's OpenMP workers then sleep
between parallel regions instead of spinning on the cores pybitnet's thread pool needs); importing
torch first leaves libgomp's default. This times a few training steps of a BNN MLP of pybitnet.torch
modules (784 - W - W - 10, batch 100, Adam, clip_weights) in a fresh interpreter per import order
and width, alternating the orders, and prints the median step time of each and their ratio.

    python scripts/import_order_check.py                       # widths 512 and 2048, 5 repeats
    python scripts/import_order_check.py --widths 512 --repeats 9 --steps 30

OMP_WAIT_POLICY and PYBITNET_OMP_SPIN are removed from the children's environment, so each child
sees what a user who sets neither gets. On a machine shared with other jobs single runs move a lot:
compare medians over several repeats.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ORDERS = {"torch first": "import torch\nimport pybitnet\n", "pybitnet first": "import pybitnet\nimport torch\n"}

CHILD = """
import json, os, time, warnings
warnings.simplefilter("ignore")  # pybitnet.torch warns about torch-first; that is the case measured
from pybitnet import torch as pbt
import pybitnet
width, steps = {width}, {steps}
torch.manual_seed(0)
nn = torch.nn
model = nn.Sequential(pbt.BinaryLinear(784, width, bias=False), nn.BatchNorm1d(width), pbt.Sign(),
                      pbt.BinarizedLinear(width, width), nn.BatchNorm1d(width), pbt.Sign(),
                      pbt.BinarizedLinear(width, 10), nn.BatchNorm1d(10))
opt = torch.optim.Adam(model.parameters(), lr=0.003)
x = torch.rand(100, 784) * 2 - 1
y = torch.randint(0, 10, (100,))

def step():
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    pbt.clip_weights(model)

for _ in range(3):  # warm-up: first-call allocations, thread pools
    step()
times = []
for _ in range(steps):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
times.sort()
print(json.dumps({{"median_s": times[len(times) // 2], "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                  "torch_threads": torch.get_num_threads(), "pybitnet_threads": pybitnet.get_num_threads()}}))
"""


def run_child(order: str, width: int, steps: int) -> dict:
    """One fresh interpreter: import in `order`, time `steps` training steps, return its JSON report."""
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "PYBITNET_OMP_SPIN")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    code = ORDERS[order] + CHILD.format(width=width, steps=steps)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=1200,
                         cwd=root)
    if out.returncode:
        raise RuntimeError(f"{order}, width {width}: child failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _load(avg) -> str:
    return ", ".join(f"{a:.2f}" for a in avg)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--widths", type=int, nargs="+", default=[512, 2048])
    p.add_argument("--steps", type=int, default=20, help="timed training steps per child (after 3 warm-up steps)")
    p.add_argument("--repeats", type=int, default=5, help="fresh interpreters per order and width")
    args = p.parse_args(argv)

    load_before = os.getloadavg()
    results = {(o, w): [] for o in ORDERS for w in args.widths}
    seen = {}
    for r in range(args.repeats):
        for w in args.widths:
            for o in (ORDERS if r % 2 == 0 else reversed(list(ORDERS))):  # alternate which order runs first
                rep = run_child(o, w, args.steps)
                results[o, w].append(rep["median_s"])
                seen[o] = rep
        print(f"repeat {r + 1}/{args.repeats} done", file=sys.stderr)

    print(f"load average (1, 5, 15 min) before: {_load(load_before)}, after: {_load(os.getloadavg())} "
          f"on {os.cpu_count()} CPUs (other processes compete for the cores when it exceeds the CPU count)")
    for o, rep in seen.items():
        print(f"{o}: OMP_WAIT_POLICY={rep['omp_wait_policy']}, torch threads {rep['torch_threads']}, "
              f"pybitnet threads {rep['pybitnet_threads']}")
    print(f"median step time (ms) over {args.repeats} fresh interpreters x {args.steps} steps, batch 100:")
    print(f"{'width':>6} {'torch first':>12} {'pybitnet first':>15} {'ratio':>7}   per-run medians (ms)")
    for w in args.widths:
        tf, pf = (statistics.median(results[o, w]) * 1e3 for o in ORDERS)
        runs = "; ".join(f"{o}: " + ", ".join(f"{t * 1e3:.1f}" for t in results[o, w]) for o in ORDERS)
        print(f"{w:>6} {tf:>12.2f} {pf:>15.2f} {tf / pf:>6.2f}x   {runs}")
    print("ratio = torch-first / pybitnet-first (> 1: importing torch first is slower)")


if __name__ == "__main__":
    main()
