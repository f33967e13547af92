"""The ``pybitnet`` command line.

    pybitnet info
    pybitnet bench [--quick] [--png bench.png]
    pybitnet train --dataset mnist --method bnn --epochs 10 --out runs/bnn
    pybitnet train --dataset cifar10 --method bnn --epochs 500 --out runs/cifar10-bnn
    mpiexec -n 2 pybitnet train ...        # data parallel (needs mpi4py)
    pybitnet evaluate runs/bnn/best.npz [--packed]
    pybitnet reproduce mnist [--rows bc,bnn] [--table]
    pybitnet summary runs/bnn/best.npz [--training-batch 200]
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from pathlib import Path


# Argument types: a bad value is argparse's usage error naming the option (exit 2), never a
# traceback, and never a run that silently does something else (--batch-size -5 trained nothing).
def _int_at_least(lo: int, hi: int = None):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"must be {'in ' + str(lo) + '..' + str(hi) if hi else '>= ' + str(lo)}, "
                                             f"got {v}")
        return v
    parse.__name__ = "int"
    return parse


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return v


def _probability(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return v


def _nonempty(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return text


_positive = _int_at_least(1)
_threads = _int_at_least(1, 1024)
_CHECKS = {"positive": _positive, "nonnegative": _int_at_least(0), "positive_float": _positive_float,
           "probability": _probability}


def _info(_args) -> int:
    import pybitnet

    feats = pybitnet.cpu_features()
    print(f"pybitnet {pybitnet.__version__}")
    print(f"active ISA:     {pybitnet.isa()}")
    print(f"available ISAs: {', '.join(pybitnet.available_isas())}")
    print(f"threads:        {pybitnet.get_num_threads()}")
    print(f"OpenBLAS spin:  {pybitnet.runtime.openblas_spin_note()}")
    print(f"CPU features:   {' '.join(name for name, on in feats.items() if on)}")
    print(f"build flags:    {pybitnet.build_info()['flags']}")
    print("active kernels (the variant that runs, per shape class; m, n, k as in src/bitops/ops.inc):")
    for op, k in sorted(pybitnet.active_kernels().items()):
        for i, (when, name) in enumerate(k["variants"].items()):
            print(f"  {op if i == 0 else '':28s} {name:40s} {when}")
    return 0


def _bench(args) -> int:
    from pybitnet import bench

    print(bench.header())
    if args.training:
        return _bench_training(args)
    if not args.quiet:
        print("timing (medians of interleaved repeats, each kernel beside numpy float32)...", flush=True)
    results = bench.run(quick=args.quick, isa=args.isa or "", threads=args.threads, repeats=args.repeats)
    print()
    print(bench.format_table(results))
    if args.png:
        bench.write_png(results, args.png)
        print(f"\nwrote {args.png}")
    return 0


def _bench_training(args) -> int:
    """Time per stage of a recipe's training step, beside PyTorch float32 (pybitnet bench --training)."""
    import pybitnet
    from pybitnet.profiling import format_profile, training_profile

    if args.isa:
        raise ValueError("--isa is for the kernel table; a training step runs the active ISA (PYBITNET_ISA=...)")
    overrides = {k: v for k, v in (("hidden", args.hidden), ("channels", args.channels)) if v}
    for threads in args.threads or sorted({1, pybitnet.get_num_threads()}):
        p = training_profile(args.method, args.dataset, steps=args.repeats or (3 if args.quick else 10),
                             threads=threads, **overrides)
        print(format_profile(p, layers=not args.quiet))
    return 0


def _train(args) -> int:
    import pybitnet
    from pybitnet import distributed, recipes
    from pybitnet.train import Trainer

    out = args.out or f"runs/{args.dataset}-{args.method}"
    try:
        Path(out).mkdir(parents=True, exist_ok=True)  # fail now, not after the first epoch
        probe = Path(out) / f".write-test-{os.getpid()}"  # an existing directory may still refuse files
        probe.touch()
        probe.unlink()
    except OSError as e:
        raise ValueError(f"--out {out}: cannot write to the output directory ({e.strerror or e})") from None
    comm = distributed.world()  # MPI.COMM_WORLD under `mpiexec -n N` (N > 1), else None
    root = comm is None or comm.Get_rank() == 0

    if args.threads:
        pybitnet.set_num_threads(args.threads)
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(recipes.Recipe) if f.metadata.get("cli")}
    if args.extend_to is not None and overrides["epochs"] is None:
        overrides["epochs"] = _planned_epochs(out)  # the schedule of the run being extended
    r = recipes.recipe(args.method, dataset=args.dataset, **overrides)
    trainer = Trainer(r, out, data_root=args.data, subset=args.subset, progress=not args.no_progress,
                      test_every=args.test_every, comm=comm)
    if root:
        print(f"{r.method} on {r.dataset}: {trainer.model!r}"
              + (f"\ndata parallel: {comm.Get_size()} MPI ranks, {r.batch_size} images per global batch"
                 if comm is not None else ""))
        if trainer.notes:
            print(f"note: {trainer.notes}")
    best = trainer.fit(epochs=args.extend_to, resume=not args.restart)
    if not root:
        return 0
    test = best["test_error"]
    print(f"best validation error {100 * best['val_error']:.2f} % at epoch {best['epoch']}"
          + (f"; its test error {100 * test:.2f} %" if test is not None else "") + f"  [{out}]")
    return 0


def _planned_epochs(out: str):
    """The epochs of the run in `out` (its schedule), for --extend-to."""
    from pathlib import Path

    from pybitnet import checkpoint

    path = Path(out) / "last.npz"
    if not path.is_file():
        raise ValueError(f"--extend-to continues a run, but {path} does not exist")
    meta = checkpoint.read(path)[1]
    epochs = meta.get("recipe", {}).get("epochs") if isinstance(meta.get("recipe"), dict) else None
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"{path}: its metadata names no planned epochs (recipe.epochs); cannot --extend-to")
    return epochs


def _evaluate(args) -> int:
    from pybitnet import checkpoint, recipes
    import numpy as np

    from pybitnet.train import predictions

    arrays, meta = checkpoint.read(args.checkpoint)
    r = _recipe_of(meta, args.checkpoint)
    *_, x_test, y_test, ds = recipes.prepare_data(r, args.data, subset=1)  # only the test set is used
    if ds.notes:
        print(f"note: {ds.notes}")
    model = recipes.build_model(r, x_test.shape[1:], ds.num_classes)
    checkpoint.load_into(arrays, model, where=args.checkpoint)
    pred = predictions(model, x_test, recipes.eval_batch_size(r))
    print(f"{r.method} on {r.dataset} (epoch {meta['epoch']}): test error {100 * np.mean(pred != y_test):.2f} %")
    if args.packed:
        _evaluate_packed(model, x_test, y_test, pred)
    return 0


INPUT_SHAPES = {"mnist": (784,), "fashion-mnist": (784,), "cifar10": (32, 32, 3), "svhn": (32, 32, 3)}


def _summary(args) -> int:
    """The model summary of a checkpoint (no data needed: the recipe gives the shapes)."""
    import numpy as np

    from pybitnet import checkpoint, recipes
    from pybitnet.summarize import summarize

    arrays, meta = checkpoint.read(args.checkpoint)
    r = _recipe_of(meta, args.checkpoint)
    shape = INPUT_SHAPES[r.dataset] if r.arch == "cnn" else (int(np.prod(INPUT_SHAPES[r.dataset])),)
    model = recipes.build_model(r, shape, 10)
    checkpoint.load_into(arrays, model, where=args.checkpoint)
    print(f"{r.method} on {r.dataset} (epoch {meta.get('epoch')}): {args.checkpoint}")
    print(summarize(model, shape, training_batch=args.training_batch))
    return 0


def _recipe_of(meta, path):
    """The Recipe a checkpoint was trained with, checked: an unknown method or dataset, a
    field of another type or one this pybitnet does not know is an InvalidModelFile (it
    reported the error rate of a different model, or a traceback)."""
    from pybitnet import InvalidModelFile, recipes

    def bad(why):
        return InvalidModelFile(f"{path}: not a valid checkpoint: its recipe {why}")

    saved = meta["recipe"]
    fields = {f.name: f for f in dataclasses.fields(recipes.Recipe)}
    unknown = sorted(set(saved) - set(fields))
    if unknown:
        raise bad(f"has fields this pybitnet does not know: {unknown}")
    defaults = recipes.Recipe(method="float")
    for name, value in saved.items():
        want = type(getattr(defaults, name))
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) if want is float else \
            isinstance(value, want) and not isinstance(value, bool)
        if not ok:
            raise bad(f"field {name!r} must be {want.__name__}, got {value!r}")
    if saved.get("method") not in recipes.METHODS:
        raise bad(f"method {saved.get('method')!r} is not one of {', '.join(recipes.METHODS)}")
    if saved.get("dataset", "mnist") not in ("mnist", "fashion-mnist", "cifar10", "svhn"):
        raise bad(f"dataset {saved.get('dataset')!r} is unknown")
    if saved.get("arch", "mlp") not in ("mlp", "cnn"):
        raise bad(f"arch {saved.get('arch')!r} is unknown")
    for name, value in saved.items():  # each knob's own rule, as `pybitnet train` checks its option
        meta = fields[name].metadata
        if meta.get("choices") and value not in meta["choices"]:
            raise bad(f"field {name!r} is {value!r}, not one of {', '.join(meta['choices'])}")
        if meta.get("check"):
            try:
                _CHECKS[meta["check"]](str(value))
            except argparse.ArgumentTypeError as e:
                raise bad(f"field {name!r}: {e}") from None
    return recipes.Recipe(**saved)


def _evaluate_packed(model, x, y, ref) -> None:
    """The same model folded into the packed inference engine: its test error, how often
    its argmax agrees with the trained model's (`ref`), and its time."""
    import numpy as np

    from pybitnet import inference

    packed = inference.from_trained(model)  # ValueError (a message) for a model that is not a BNN
    t0 = time.perf_counter()
    pred = np.concatenate([packed.predict(x[i:i + 100]) for i in range(0, len(x), 100)])
    ms_per_100 = 1e5 * (time.perf_counter() - t0) / len(x)
    print(f"packed ({type(packed).__name__}, {packed.weight_bytes() / 2**20:.2f} MiB of weights): test error "
          f"{100 * np.mean(pred != y):.2f} %, argmax agrees with the trained model on "
          f"{100 * np.mean(pred == ref):.2f} % of the test set, {ms_per_100:.1f} ms per 100 images")


def _reproduce(args) -> int:
    from pybitnet import reproduce

    rows = reproduce.rows_named(args.rows.split(",") if args.rows else None)
    if not args.table:
        import pybitnet

        if args.threads:
            pybitnet.set_num_threads(args.threads)
        reproduce.run(rows, args.out, args.data, args.epochs_scale, progress=not args.no_progress)
    table = reproduce.summarize(rows, args.out)
    print(reproduce.format_table(table))
    if args.png_dir:
        for path in reproduce.plot(table, args.out, args.png_dir):
            print(f"wrote {path}")
    return 0


def main(argv=None) -> int:
    from pybitnet import recipes
    from pybitnet.recipes import METHODS

    parser = argparse.ArgumentParser(prog="pybitnet", description="Neural networks with few multiplications.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print CPU features, the active ISA, threads, build flags and active kernels"
                   ).set_defaults(fn=_info)

    b = sub.add_parser("bench", help="speed-ups of the kernels vs numpy float32, and their multiplications")
    b.add_argument("--quick", action="store_true", help="small shapes, few repeats (seconds)")
    b.add_argument("--png", help="also write a bar chart of the speed-ups to this PNG file")
    b.add_argument("--isa", help="ISA path to time (default: the active one)")
    b.add_argument("--threads", type=_threads, nargs="+", help="thread counts (default: 1 and the detected count)")
    b.add_argument("--repeats", type=_positive, help="timed calls per kernel and baseline (default 15, quick 5)")
    b.add_argument("--quiet", action="store_true")
    b.add_argument("--training", action="store_true",
                   help="instead: time per stage of a training step (--method, --dataset: mnist gives the MLP, "
                        "cifar10 the CNN) beside the same net in PyTorch float32")
    b.add_argument("--method", default="bnn", choices=recipes.METHODS, help="--training: the recipe")
    b.add_argument("--dataset", default="mnist", choices=recipes.DATASETS, help="--training: the data set")
    b.add_argument("--hidden", type=_positive, help="--training: override the recipe's hidden width")
    b.add_argument("--channels", type=_positive,
                   help="--training, CNN data sets: override the first conv block's width (CIFAR-10 128)")
    b.set_defaults(fn=_bench)

    t = sub.add_parser("train", help="train a paper's model (resumes from OUT/last.npz)")
    t.add_argument("--dataset", default="mnist", choices=recipes.DATASETS)
    t.add_argument("--method", default="bnn", choices=METHODS)
    t.add_argument("--out", type=_nonempty, help="output directory (default runs/DATASET-METHOD)")
    t.add_argument("--data", help="data root (default $PYBITNET_DATA)")
    for f in dataclasses.fields(recipes.Recipe):  # every recipe knob, from the Recipe's own fields
        meta = f.metadata
        if meta.get("cli"):
            kind = {"choices": meta["choices"]} if meta.get("choices") else {"type": _CHECKS[meta["check"]]}
            t.add_argument("--" + f.name.replace("_", "-"), help=meta["help"], **kind)
    t.add_argument("--subset", type=_positive, help="train on the first N training images only")
    t.add_argument("--threads", type=_threads)
    t.add_argument("--test-every", type=_positive, default=1, help="compute the test error every N epochs")
    t.add_argument("--restart", action="store_true", help="ignore OUT/last.npz and start over")
    t.add_argument("--extend-to", type=_positive, metavar="N",
                   help="continue the run in OUT past its planned epochs up to epoch N; its LR schedule keeps "
                        "its formula (a resumed run must otherwise keep its --epochs)")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(fn=_train)

    rp = sub.add_parser("reproduce", help="the seed papers' MNIST rows: train (resumable) and tabulate")
    rp.add_argument("dataset", choices=["mnist"])
    rp.add_argument("--rows", help="comma-separated rows (default: all): "
                    "float, bc, bc-stoch, bc-qbp, tc-qbp, bnn-shift, bnn")
    rp.add_argument("--out", default="runs", help="runs go to OUT/mnist-ROW (default runs)")
    rp.add_argument("--data", help="data root (default $PYBITNET_DATA)")
    rp.add_argument("--epochs-scale", type=_positive_float, default=1.0, help="multiply every row's epoch budget")
    rp.add_argument("--threads", type=_threads)
    rp.add_argument("--table", action="store_true", help="only print the table from the runs' logs")
    rp.add_argument("--png-dir", help="also plot each row beside its reference run into this folder")
    rp.add_argument("--no-progress", action="store_true")
    rp.set_defaults(fn=_reproduce)

    sm = sub.add_parser("summary", help="a checkpoint's layers: parameters, bits, operations (count_ops), memory")
    sm.add_argument("checkpoint")
    sm.add_argument("--training-batch", type=_positive, metavar="B",
                    help="also count one training step of B examples beside the papers' accounting")
    sm.set_defaults(fn=_summary)

    e = sub.add_parser("evaluate", help="test error of a checkpoint")
    e.add_argument("checkpoint")
    e.add_argument("--data", help="data root (default $PYBITNET_DATA)")
    e.add_argument("--packed", action="store_true",
                   help="also run the BNN folded into the packed inference engine (pybitnet.inference)")
    e.set_defaults(fn=_evaluate)

    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    # bad data, checkpoint (InvalidModelFile) or option, a diverged run: a message, not a traceback
    except (OSError, ValueError, FloatingPointError) as e:
        print(f"pybitnet {args.command}: error: {e}", file=sys.stderr)
        return 2
    except MemoryError as e:  # e.g. --hidden 99999999999: sizes that pass their range check but not the machine
        print(f"pybitnet {args.command}: error: out of memory ({e or 'the allocation failed'}): a smaller --hidden, "
              f"--channels or batch size", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
