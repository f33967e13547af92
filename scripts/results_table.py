"""Summarize trainer runs (runs/*/log.jsonl) as a Markdown table.

    python scripts/results_table.py runs/mnist-*
"""
import json
import sys
from pathlib import Path

PAPER = {"float": 1.33, "bc": 1.23, "bc-stoch": 1.23, "bc-qbp": 1.29, "tc-qbp": 1.15, "bnn": 0.96, "bnn-shift": 1.40}
# CIFAR-10 (the VGG-like CNN): BNN Theano 11.40 % (Torch7 10.15 %), BinaryConnect 8.27 %.
PAPER_CIFAR10 = {"bnn": 11.40, "bc": 8.27, "bc-stoch": 8.27}


def main(dirs):
    print("| run | method | epochs | wall time (train) | best val error | test error at best val | last test error"
          " | paper |")
    print("|---|---|---|---|---|---|---|---|")
    for d in map(Path, dirs):
        log = d / "log.jsonl"
        if not log.is_file():
            continue
        rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        method = rows[-1].get("method", d.name)
        best = min(rows, key=lambda r: r["val_error"])
        tested = [r for r in rows if r.get("test_error") is not None]
        best_test = best if best.get("test_error") is not None else None
        last = tested[-1] if tested else None
        hours = sum(r["epoch_time_s"] for r in rows) / 3600
        fmt = lambda r: f"{100 * r['test_error']:.2f} % (ep {r['epoch']})" if r else "–"  # noqa: E731
        print(f"| {d.name} | {method} | {rows[-1]['epoch']} | {hours:.2f} h | {100 * best['val_error']:.2f} % "
              f"(ep {best['epoch']}) | {fmt(best_test)} | {fmt(last)} | {(PAPER_CIFAR10 if d.name.startswith('cifar10') else PAPER).get(method, '–')} % |")


if __name__ == "__main__":
    main(sys.argv[1:])
