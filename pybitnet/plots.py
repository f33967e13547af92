"""Learning-curve plots (PNG) from a trainer's log.jsonl."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional


def learning_curves(log_path, png_path, title: str = "") -> Optional[Path]:
    """Loss and validation/test error per epoch. Returns None if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = [json.loads(line) for line in Path(log_path).read_text().splitlines() if line.strip()]
    if not rows:
        return None
    epochs = [r["epoch"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, [r["loss"] for r in rows], label="train loss")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.set_yscale("log")
    ax1.legend()
    ax2.plot(epochs, [100 * r["val_error"] for r in rows], label="validation")
    tests = [(r["epoch"], 100 * r["test_error"]) for r in rows if r.get("test_error") is not None]
    if tests:
        ax2.plot(*zip(*tests), label="test")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("error (%)")
    ax2.set_yscale("log")
    from matplotlib.ticker import FormatStrFormatter

    # Plain numbers ("3", "4", "8"), not "8x10^0", on the log-scale error axis.
    ax2.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax2.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax2.legend()
    fig.suptitle(f"pybitnet {title}")
    fig.tight_layout()
    png_path = Path(png_path)
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return png_path
