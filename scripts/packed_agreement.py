"""How exactly the packed engine reproduces a trained checkpoint: argmax agreement and the largest
logit difference on the test set, per first-conv path (docs/INFERENCE.md, "Exactness").

    PYBITNET_DATA=../shared/data python scripts/packed_agreement.py runs/cifar10-bnn/best.npz [--limit N]
"""
import argparse
import time

import numpy as np

import pybitnet
from pybitnet import checkpoint, inference, nn, recipes


def first_layer_flips(model, packed, x, fused: bool, batch: int = 100) -> tuple:
    """(differing, total) first-layer signs of the packed engine vs the trained model's first block."""
    differing = total = 0
    for i in range(0, len(x), batch):
        h = x[i:i + batch]
        for layer in model.layers:
            h = layer.forward(h)
            if isinstance(layer, nn.SteSign):
                break
        want = pybitnet.pack_signs(h, axis=-1)
        got = packed.layers[0].forward(x[i:i + batch], fused=True) if fused else packed.layers[0].forward(x[i:i + batch])
        differing += int(np.unpackbits((got ^ want).view(np.uint8)).sum())
        total += h.size
    return differing, total


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--data")
    p.add_argument("--limit", type=int, default=0, help="first N test images only")
    args = p.parse_args(argv)
    arrays, meta = checkpoint.read(args.checkpoint)
    r = recipes.Recipe(**meta["recipe"])
    *_, x, y, ds = recipes.prepare_data(r, args.data, subset=1)
    if args.limit:
        x, y = x[:args.limit], y[:args.limit]
    model = recipes.build_model(r, x.shape[1:], ds.num_classes)
    checkpoint.load_into(arrays, model, where=args.checkpoint)
    model.eval()
    batch = recipes.eval_batch_size(r)
    want = np.concatenate([model.forward(x[i:i + batch]) for i in range(0, len(x), batch)])
    packed = inference.from_trained(model)
    print(f"{args.checkpoint}: {r.method} on {r.dataset}, epoch {meta['epoch']}, {len(x)} test images, "
          f"trained model's test error {100 * np.mean(want.argmax(1) != y):.2f} %")
    paths = ["exact", "fused"] if isinstance(packed, inference.CNNModel) else ["exact"]
    for path in paths:
        t0 = time.perf_counter()
        got = np.concatenate([packed.logits(x[i:i + 100], first_conv=path) for i in range(0, len(x), 100)])
        ms = 1e5 * (time.perf_counter() - t0) / len(x)
        flips, signs = first_layer_flips(model, packed, x, path == "fused")
        print(f"  packed ({path} first layer): {flips} of {signs} first-layer signs differ; argmax agreement {100 * np.mean(got.argmax(1) == want.argmax(1)):.2f} %, "
              f"max |logit diff| {np.abs(got - want).max():.2e} (logits up to {np.abs(want).max():.2f}), "
              f"test error {100 * np.mean(got.argmax(1) != y):.2f} %, {ms:.1f} ms per 100 images")


if __name__ == "__main__":
    main()
