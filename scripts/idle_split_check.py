"""Does a 2-thread kernel call split after the process has idled? (docs/BENCHMARKS.md, rows 6 and 8)

Rounds of back-to-back xnor_gemm 256x4096x4096 calls on 1, then 2 threads, with a pause before each
round: ``python scripts/idle_split_check.py 0`` (no pause) against ``... 0.15`` (sleep 0.15 s) or
``... probe`` (the speed table's two-copy XNOR loop probe). Prints each call's ms: on a 2-thread machine a
split call takes about half the 1-thread time; a call whose worker woke late takes about the 1-thread
time, and the thread cost model then keeps the calls inline.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pybitnet  # noqa: E402  (before numpy: OpenBLAS's short spin)
from pybitnet import _bitops, bench  # noqa: E402

from benchmarks import speed_table  # noqa: E402
from benchmarks.common import use_threads  # noqa: E402


def main(pause: str, rounds: int = 4, calls: int = 6) -> None:
    k = 4096
    b = pybitnet.pack_signs(bench.random_pm((k, k), 2))
    a = pybitnet.pack_signs(bench.random_pm((256, k), 1))
    probe = speed_table.build_probe("xnor_loop_peak")[0] if pause == "probe" else None
    for n in (1, 2):
        use_threads(n)
        for r in range(rounds):
            if probe is not None:
                speed_table.xnor_peak(probe, n)
            elif float(pause) > 0:
                time.sleep(float(pause))
            times = []
            for _ in range(calls):
                t = time.perf_counter()
                _bitops.xnor_gemm(a, b, k, pybitnet.isa())
                times.append(1e3 * (time.perf_counter() - t))
            print(f"{n} thread(s), round {r}: " + " ".join(f"{x:.2f}" for x in times))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "0")
