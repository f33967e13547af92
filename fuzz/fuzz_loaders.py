"""Coverage-guided fuzzing of the model and checkpoint loaders (atheris).

Modes: raw bytes as a file for pybitnet.inference.load and pybitnet.checkpoint.read
(seeded with valid MLP, CNN and checkpoint files); and structured edits: one member
of a valid model's arrays replaced by a fuzzed array (any dtype, shape, values), the
checksum recomputed so the edit reaches the consistency checks. Acceptable outcomes:
a model (which must then predict, or refuse the input with ValueError),
InvalidModelFile, or for checkpoints a successful load_into. Anything else is a finding.
"""
import io
import os
import sys
import tempfile

import atheris
import numpy as np

import _setup
from kernel_cases import AtherisSource, any_array
from pybitnet import InvalidModelFile, checkpoint, recipes
from pybitnet.inference import export, from_trained, load
from pybitnet.inference.io import _checksum, from_arrays

TMP = tempfile.mkdtemp(prefix="pybitnet-fuzz-loaders-")
PATH = os.path.join(TMP, "input.npz")


def _mlp():
    m = recipes.build_model(recipes.recipe("bnn", hidden=70, depth=2), 784, 10)
    m.eval()
    return m


def _seed_files():
    from test_inference_cnn import small_cnn
    mlp_path, cnn_path, ckpt_path = (os.path.join(TMP, n) for n in ("mlp.npz", "cnn.npz", "ckpt.npz"))
    export(_mlp(), mlp_path, input_scale=2 / 255, input_offset=-1.0)
    export(from_trained(small_cnn(pool_first=True), input_shape=(8, 8, 3)), cnn_path)
    r = recipes.recipe("bnn", hidden=16, depth=1)
    model = recipes.build_model(r, 784, 10)
    checkpoint.save(ckpt_path, model, recipes.build_optimizer(r, model),
                    meta={"recipe": r.to_dict(), "epoch": 1, "best": {"val_error": 0.5, "epoch": 1, "test_error": None}})
    return [open(p, "rb").read() for p in (mlp_path, cnn_path, ckpt_path)], (mlp_path, cnn_path)


SEEDS, (MLP_FILE, CNN_FILE) = _seed_files()
ARRAYS = []
for p in (MLP_FILE, CNN_FILE):
    with np.load(p, allow_pickle=False) as z:
        ARRAYS.append({k: z[k] for k in z.files})
CKPT_RECIPE = recipes.recipe("bnn", hidden=16, depth=1)


def _use(model, src):
    """A loaded model must predict (or refuse the input with a ValueError)."""
    if hasattr(model, "input_shape"):
        x = src.floats((2,) + model.input_shape)
    else:
        x = src.floats((2, model.in_features))
    try:
        model.predict(x)
    except ValueError:
        pass


def _raw(data: bytes, src) -> None:
    with open(PATH, "wb") as f:
        f.write(data)
    try:
        _use(load(PATH), src)
    except InvalidModelFile:
        pass
    try:
        arrays, meta = checkpoint.read(PATH)
        model = recipes.build_model(CKPT_RECIPE, 784, 10)
        checkpoint.load_into(arrays, model, recipes.build_optimizer(CKPT_RECIPE, model), PATH)
    except InvalidModelFile:
        pass


def _edit(src) -> None:
    arrays = dict(ARRAYS[src.integer(0, 1)])
    names = sorted(arrays)
    name = src.choice(names)
    if src.integer(0, 4) == 0:
        del arrays[name]
    else:
        new = any_array(src) if src.boolean() else np.array(src.integer(-2**31, 2**31), np.int64)
        if new.size > 1 << 16:  # a file holds real arrays: no 2**40-row broadcast views
            new = new[:1]
        arrays[name] = np.array(new)
    arrays.pop("checksum", None)
    arrays["checksum"] = np.array(_checksum(arrays))
    try:
        _use(from_arrays(arrays, "<edited>"), src)
    except InvalidModelFile:
        pass


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeBool():
        _edit(AtherisSource(fdp))
    else:
        _raw(fdp.ConsumeBytes(fdp.remaining_bytes()), AtherisSource(atheris.FuzzedDataProvider(data[:64])))


if __name__ == "__main__":
    _setup.run(test_one_input, seeds=[b"\x00" + s for s in SEEDS] + [b"\x01" + bytes(range(64))])
