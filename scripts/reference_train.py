"""Train the independent PyTorch implementation (tests/torch_reference.py) of a seed-paper recipe:
the reference curve docs/RESULTS.md shows beside pybitnet's at equal epochs.

    python scripts/reference_train.py --method bnn --epochs 20 --out runs/reference-mnist-bnn
    python scripts/reference_train.py --dataset cifar10 --method bnn --epochs 3 --out runs/reference-cifar10-bnn

Resumable (re-run the same command); one thread; one JSON line per epoch in OUT/log.jsonl, the
fields of pybitnet's training log (plus "reference": "torch").
"""
import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import torch  # noqa: E402

import torch_reference as ref  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist", choices=["mnist", "cifar10"])
    p.add_argument("--method", required=True, choices=sorted(ref.SPECS), help="cifar10: bnn only")
    p.add_argument("--epochs", type=int, required=True, help="the schedule's length (compressed as pybitnet's)")
    p.add_argument("--out", required=True)
    p.add_argument("--data", default=os.environ.get("PYBITNET_DATA", str(HERE.parents[1] / "shared" / "data")))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr-end", type=float, help="cifar10: the last epoch's LR (default the recipe's 3e-7)")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    log = lambda s: print(s, flush=True)  # noqa: E731
    if a.dataset == "cifar10":
        if a.method != "bnn":
            p.error("cifar10: the reference has the BNN CNN only (--method bnn)")
        ref.train_cifar10(a.data, a.out, a.epochs, seed=a.seed, log=log,
                          **({"lr_end": a.lr_end} if a.lr_end else {}))
    else:
        ref.train(ref.spec(a.method, epochs=a.epochs), a.data, a.out, seed=a.seed, log=log)


if __name__ == "__main__":
    main()
