"""Learning curves of several runs' log.jsonl files in one figure (validation and test error per epoch).

    python scripts/plot_logs.py --out docs/results/cifar10-bnn-vs-reference.png --title "CIFAR-10 BNN" \\
        "pybitnet seed 0=runs/cifar10-bnn/log.jsonl" "reference seed 0=runs/reference-cifar10-bnn/log.jsonl"
"""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="LABEL=path/to/log.jsonl")
    p.add_argument("--out", required=True)
    p.add_argument("--title", default="")
    a = p.parse_args(argv)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for n, spec in enumerate(a.runs):
        label, _, path = spec.partition("=")
        rows = [json.loads(line) for line in open(path) if line.strip()]
        epochs = [r["epoch"] for r in rows]
        color = f"C{n}"
        ax.plot(epochs, [100 * r["val_error"] for r in rows], "--o", color=color, label=f"{label} validation")
        ax.plot(epochs, [100 * r["test_error"] for r in rows], "-s", color=color, label=f"{label} test")
    ax.set_xlabel("epoch")
    ax.set_ylabel("error (%)")
    ax.set_title(a.title)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(a.out, dpi=100)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
