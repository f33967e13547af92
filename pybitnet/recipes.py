"""The papers' recipes: architecture, optimizer, schedule and preprocessing
for each ``--method`` and ``--dataset`` (every knob overridable): the MLPs on
MNIST / Fashion-MNIST and the VGG-like CNN on CIFAR-10 (half width on SVHN)."""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from . import data, optim
from .nn import (BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Sequential, ShiftBatchNorm,
                 SignWeights, SquaredHinge, SteSign, TernaryWeights)

METHODS = ("float", "bc", "bc-stoch", "tc", "bc-qbp", "tc-qbp", "bnn", "bnn-shift")
DATASETS = ("mnist", "fashion-mnist", "cifar10", "svhn")
CNN_DATASETS = {"cifar10": 128, "svhn": 64}  # dataset -> width of the first conv block
CNN_METHODS = ("float", "bc", "bc-stoch", "bc-qbp", "bnn")


def _knob(default, help: str, *, check: Optional[str] = None, choices=None, cli: bool = True):
    """A Recipe field and its command-line option (``pybitnet train --name-with-dashes``): `check` names
    the value's rule ("positive", "nonnegative", "positive_float", "probability"), `choices` its values."""
    return dataclasses.field(default=default, metadata={"help": help, "check": check, "choices": choices, "cli": cli})


@dataclasses.dataclass
class Recipe:
    """Everything that defines a run. Defaults come from :func:`recipe`; every field but `method`,
    `dataset` and `arch` is a ``pybitnet train`` option (the CLI derives them from these fields)."""

    method: str = _knob(dataclasses.MISSING, "the training method", choices=METHODS, cli=False)
    dataset: str = _knob("mnist", "the data set", choices=DATASETS, cli=False)
    hidden: int = _knob(1024, "units per hidden dense layer", check="positive")
    depth: int = _knob(3, "hidden dense layers (MLP: 3; CNN: the 2 after the convs)", check="positive")
    epochs: int = _knob(1000, "epochs; the LR schedule spans them", check="positive")
    batch_size: int = _knob(200, "examples per minibatch", check="positive")
    optimizer: str = _knob("sgd", "the optimizer", choices=("sgd", "adam", "adamax", "shift-adamax"))
    lr: float = _knob(0.3, "the first epoch's learning rate", check="positive_float")
    lr_end: float = _knob(0.01, "the exponential schedule's last learning rate", check="positive_float")
    schedule: str = _knob("exp", "exp: lr -> lr_end over the epochs; step: halved every --lr-every epochs",
                          choices=("exp", "step"))
    lr_every: int = _knob(20, "step schedule: epochs between halvings", check="positive")
    input_dropout: float = _knob(0.0, "dropout rate of the input", check="probability")
    hidden_dropout: float = _knob(0.0, "dropout rate after each hidden activation", check="probability")
    preprocess: str = _knob("center", "center (BC/TC papers), pm1 (BNN Theano), standardize (BNN Torch7), unit",
                            choices=("center", "pm1", "standardize", "unit"))
    val_size: int = _knob(10000, "the last N training examples validate", check="positive")
    seed: int = _knob(0, "initialization, sampling and shuffling seed", check="nonnegative")
    arch: str = _knob("mlp", "mlp or cnn (set by the dataset)", choices=("mlp", "cnn"), cli=False)
    channels: int = _knob(128, "CNN: width of the first conv block (CIFAR-10 128, SVHN 64)", check="positive")
    loss_reduction: str = _knob("batch", "squared hinge summed over classes / batch (BC-M, Few-Mult) or the mean",
                                choices=("batch", "mean"))
    bn_stats: str = _knob("recompute", "evaluation BN statistics: recomputed after every epoch (BC-M) or running "
                          "averages", choices=("recompute", "running"))
    conv_pad: str = _knob("zero", "CNN: padding of the binary convs' ±1 inputs (zero: the papers' Lasagne code; "
                          "one: fused packed inference)", choices=("zero", "one"))

    def to_dict(self):
        return dataclasses.asdict(self)


def recipe(method: str, **overrides) -> Recipe:
    """The paper's recipe for `method`, with `overrides` (None values ignored).

    - float, bc, bc-stoch, tc, bc-qbp, tc-qbp: Lin et al. 2015 / BC-M: 784-1024x3-10,
      ReLU, BN everywhere (no bias before it), SGD (no momentum), batch 200, LR 0.3 -> 0.01
      exponential, centred pixels, W0 = Glorot/2 weight scale (W ~ U(-2 W0, 2 W0), clipped to
      +-W0), squared hinge loss summed over the classes and averaged over the batch (BC-M's
      ``model.py``), BN statistics for evaluation recomputed after every epoch over the training
      and validation sets; quantized back-propagation takes the error at the BN output.
    - bnn: Hubara et al. 2016 (Theano): 784-4096x3-10, sign activations (STE), BN (Lasagne:
      running average of 1/std), dropout 0.2/0.5, Adam 0.003 -> 3e-7, batch 100, inputs in
      [-1, 1], Glorot LR scale, squared hinge averaged over batch x classes.
    - bnn-shift: the Torch7 code (``Main_BinaryNet_MNIST.lua``): 3x2048, shift-based BN,
      stochastic binarized neurons, shift-based AdaMax at 2**-6 halved every 20 epochs, Glorot
      LR scale on weights, biases and BN gammas, a standard BN on the output, inputs
      standardized with the training set's scalar mean and std, no dropout.

    See docs/RESULTS.md ("Audit") for each point against the authors' code.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    dataset = overrides.get("dataset") or "mnist"
    if dataset in CNN_DATASETS:
        return _cnn_recipe(method, dataset, overrides)
    base = Recipe(method=method)
    if method == "bnn":
        base = dataclasses.replace(base, hidden=4096, batch_size=100, optimizer="adam", lr=0.003, lr_end=3e-7,
                                   input_dropout=0.2, hidden_dropout=0.5, preprocess="pm1", loss_reduction="mean",
                                   bn_stats="running")
    elif method == "bnn-shift":
        base = dataclasses.replace(base, hidden=2048, batch_size=100, optimizer="shift-adamax", lr=2**-6,
                                   schedule="step", lr_every=20, preprocess="standardize", loss_reduction="mean",
                                   bn_stats="running")
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})


def _cnn_recipe(method: str, dataset: str, overrides) -> Recipe:
    """CIFAR-10 / SVHN: 2x(C)-MP2-2x(2C)-MP2-2x(4C)-MP2-1024FC-1024FC-10, conv 3x3 pad 1, BN after
    pooling, square hinge loss, Adam, batch 50, exponential LR decay, pixels in [-1, 1]
    (no GCN/ZCA: the BNN Theano preprocessing for every method), last 5000 (CIFAR-10) training
    images as validation set.

    - bnn: BNN Theano: sign activations, H = 1, Glorot LR scale; CIFAR-10 500 epochs LR 0.001 -> 3e-7,
      SVHN 200 epochs LR 0.001 -> 1e-6; the ±1 activations zero-padded as Lasagne does (``conv_pad="one"``
      pads with +1: the packed engine then fuses BN+sign into every conv).
    - bc, bc-stoch (bc-qbp): BC-L: binary weights H = 1, Glorot LR scale, ReLU; CIFAR-10 500 epochs
      LR 0.003 -> 2e-6, SVHN 200 epochs LR 0.01 -> 3e-6.
    - float: the same net with float weights and the BC-L schedule.
    """
    if method not in CNN_METHODS:
        raise ValueError(f"method {method!r} has no {dataset} recipe (CNN methods: {', '.join(CNN_METHODS)})")
    cifar = dataset == "cifar10"
    if method == "bnn":
        lr, lr_end = (0.001, 3e-7) if cifar else (0.001, 1e-6)
    else:
        lr, lr_end = (0.003, 2e-6) if cifar else (0.01, 3e-6)
    base = Recipe(method=method, dataset=dataset, arch="cnn", channels=CNN_DATASETS[dataset], hidden=1024, depth=2,
                  epochs=500 if cifar else 200, batch_size=50, optimizer="adam", lr=lr, lr_end=lr_end,
                  preprocess="pm1", val_size=5000 if cifar else 6000, loss_reduction="mean", bn_stats="running")
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})


@dataclasses.dataclass(frozen=True)
class Method:
    """What a method puts in a network, for the MLP and the CNN builders alike."""

    weights: Optional[str] = None  # None (float), "sign" (BinaryConnect / BNN) or "ternary" (ternary connect)
    stochastic: bool = False  # sampled weights at train time, real weights at evaluation
    qbp: bool = False  # quantized back-propagation: shift-add weight gradient
    binarized: bool = False  # BNN: sign activations, binary inputs to every layer but the first
    torch7: bool = False  # the BNN Torch7 code: shift BN, stochastic neurons, standard output BN, GLR everywhere

    def quantizer(self, scale):
        if self.weights is None:
            return None
        return (SignWeights if self.weights == "sign" else TernaryWeights)(scale, self.stochastic)


METHOD_TABLE = {
    "float": Method(),
    "bc": Method("sign"),
    "bc-stoch": Method("sign", stochastic=True),
    "tc": Method("ternary", stochastic=True),
    "bc-qbp": Method("sign", stochastic=True, qbp=True),
    "tc-qbp": Method("ternary", stochastic=True, qbp=True),
    "bnn": Method("sign", binarized=True),
    "bnn-shift": Method("sign", binarized=True, torch7=True),
}
assert tuple(METHOD_TABLE) == METHODS


def _activation(r: Recipe, m: Method, layers: list, i: int) -> None:
    if not m.binarized:
        layers.append(ReLU())
    else:  # Torch7: HardTanh + BinarizedNeurons(stochastic), HardTanh's gradient gate is exclusive
        layers.append(SteSign(stochastic=m.torch7, seed=r.seed + 300 + i, gate="exclusive" if m.torch7 else "inclusive"))
    if r.hidden_dropout:
        layers.append(Dropout(r.hidden_dropout, seed=r.seed + 200 + i))


def _norm(r: Recipe, m: Method, features: int, last: bool, seed: int):
    """The BN after a product: BC-M's (statistics recomputed), Lasagne's (BNN Theano: running 1/std) or
    Torch7's (shift BN; a standard BN with U(0, 1) gammas on the output; GLR on the gammas)."""
    if m.torch7:
        if last:  # nn.BatchNormalization(10): gamma ~ U(0, 1), unbiased running variance
            norm = BatchNorm(features, eps=1e-5, momentum=0.1, running="unbiased_var", gamma_init="uniform",
                             seed=seed + 11)
        else:
            norm = ShiftBatchNorm(features)
        norm.gamma.lr_scale = float(np.sqrt(features / 1.5))  # Torch's GLR for BN weights: 1/sqrt(1.5/n)
        return norm
    return BatchNorm(features, running="inv_std" if m.binarized else "var")


def _dense(r: Recipe, m: Method, i: int, fan_in: int, fan_out: int, seed: int, cnn: bool):
    """A dense layer. MLPs of the BC-M family: H = W0 ("glorot"), no bias before BN (BN's beta is it);
    BNN and the CNNs' (BC-L) layers: H = 1 with the Glorot LR scale and a bias."""
    bcm = not cnn and not m.binarized
    scale = "glorot" if bcm else 1.0
    layer = Dense(fan_in, fan_out, weight_quantizer=m.quantizer(scale), qbp=m.qbp,
                  binary_input=m.binarized and (cnn or i > 0),
                  lr_scale="glorot" if (m.weights and not bcm) else None, bias=not bcm, seed=seed)
    if m.torch7:  # Torch's BinaryLinear: bias ~ U(+-1/sqrt(fan_in)) with the weights' LR scale
        bound = 1 / np.sqrt(fan_in)
        layer.bias.value[...] = np.random.default_rng(seed + 7).uniform(-bound, bound, fan_out)
        layer.bias.lr_scale = layer.weight.lr_scale
    return layer


def _dense_stack(r: Recipe, m: Method, sizes, layers: list, first_index: int, cnn: bool) -> None:
    for j, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        i = first_index + j
        last = j == len(sizes) - 2
        seed = r.seed * 1000 + i
        layer = _dense(r, m, j, fan_in, fan_out, seed, cnn)
        layer.needs_input_grad = i > 0
        norm = _norm(r, m, fan_out, last, seed)
        if m.qbp and not cnn:
            layer.qbp_error_from = norm  # Few-Mult: the weight gradient takes the error at the BN output
        layers += [layer, norm]
        if not last:
            _activation(r, m, layers, i)


def _build_cnn(r: Recipe, in_shape, classes: int) -> Sequential:
    h, w, c_in = in_shape
    if r.method not in CNN_METHODS:
        raise ValueError(f"method {r.method!r} has no CNN model (CNN methods: {', '.join(CNN_METHODS)})")
    m = METHOD_TABLE[r.method]
    widths = [r.channels, r.channels, 2 * r.channels, 2 * r.channels, 4 * r.channels, 4 * r.channels]
    layers = []
    if r.input_dropout:
        layers.append(Dropout(r.input_dropout, seed=r.seed + 101))
    for i, c_out in enumerate(widths):
        binary_in = m.binarized and i > 0
        conv = Conv2D(c_in, c_out, 3, padding=1, weight_quantizer=m.quantizer(1.0), qbp=m.qbp,
                      binary_input=binary_in, pad_value=r.conv_pad if binary_in else None,
                      lr_scale="glorot" if m.weights else None, seed=r.seed * 1000 + i)
        conv.needs_input_grad = i > 0
        layers.append(conv)
        if i % 2 == 1:
            layers.append(MaxPool2D(2))  # ties: every tied maximum gets the gradient (Theano)
            h, w = h // 2, w // 2
        layers.append(_norm(r, m, c_out, False, 0))
        _activation(r, m, layers, i)
        c_in = c_out
    layers.append(Flatten())
    _dense_stack(r, m, [h * w * c_in] + [r.hidden] * r.depth + [classes], layers, len(widths), cnn=True)
    return Sequential(*layers)


def build_model(r: Recipe, in_features, classes: int) -> Sequential:
    """The recipe's network for inputs of `in_features` (an int: MLP rows; the image shape
    (H, W, C) for the CNN; an MLP also takes a shape and flattens it)."""
    if r.method not in METHOD_TABLE:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {r.method!r}")
    if r.arch == "cnn":
        if np.ndim(in_features) == 0 or len(in_features) != 3:
            raise ValueError(f"the CNN needs the image shape (H, W, C), got {in_features!r}")
        return _build_cnn(r, tuple(int(v) for v in in_features), classes)
    if r.arch != "mlp":
        raise ValueError(f"arch must be mlp or cnn; got {r.arch!r}")
    layers = []
    if r.input_dropout:
        layers.append(Dropout(r.input_dropout, seed=r.seed + 101))
    sizes = [int(np.prod(in_features))] + [r.hidden] * r.depth + [classes]
    _dense_stack(r, METHOD_TABLE[r.method], sizes, layers, 0, cnn=False)
    return Sequential(*layers)


def build_optimizer(r: Recipe, model, update_in_backward: bool = False):
    """The recipe's optimizer over `model`'s parameters. ``update_in_backward``: see
    :class:`pybitnet.optim.Optimizer` (the same updates, bit for bit, with less memory traffic;
    the quantized weights' gradients are not kept). ``pybitnet train`` uses it on one process."""
    params = model.parameters()
    kw = {"update_in_backward": update_in_backward}
    if r.optimizer == "sgd":
        return optim.SGD(params, r.lr, **kw)
    if r.optimizer == "adam":
        return optim.Adam(params, r.lr, **kw)
    if r.optimizer == "adamax":
        return optim.AdaMax(params, r.lr, **kw)
    if r.optimizer == "shift-adamax":
        return optim.ShiftAdaMax(params, r.lr, **kw)
    raise ValueError(f"optimizer must be sgd, adam, adamax or shift-adamax; got {r.optimizer!r}")


def build_schedule(r: Recipe):
    if r.schedule == "exp":
        return optim.ExponentialDecay(r.lr, r.lr_end, r.epochs)
    if r.schedule == "step":
        return optim.StepDecay(r.lr, 0.5, r.lr_every)
    raise ValueError(f"schedule must be exp or step; got {r.schedule!r}")


def prepare_data(r: Recipe, root: Optional[str] = None, subset: Optional[int] = None):
    """(x_train, y_train, x_val, y_val, x_test, y_test, dataset) as float32, per the recipe:
    rows for the MLP, NHWC images for the CNN."""
    ds = data.load_dataset(r.dataset, root)
    if r.arch == "cnn":
        x_train, x_test = ds.x_train, ds.x_test
        if x_train.ndim == 3:  # grey images: one channel
            x_train, x_test = x_train[..., None], x_test[..., None]
        if r.preprocess in ("center", "standardize"):
            raise ValueError("the CNN recipes take preprocess pm1 or unit (center and standardize are the MLPs')")
        if subset:  # scale only what is used: CIFAR-10 in float32 is 600 MB
            cut = len(x_train) - r.val_size
            keep = np.r_[0:min(subset, cut), cut:len(x_train)]
            x_train, y_train = x_train[keep], ds.y_train[keep]
            ds_y = y_train
        else:
            ds_y = ds.y_train
    else:
        x_train, x_test = data.flatten(ds.x_train), data.flatten(ds.x_test)
        ds_y = ds.y_train
    if r.preprocess == "pm1":
        x_train, x_test = data.scale_pm1(x_train), data.scale_pm1(x_test)
    else:
        x_train, x_test = (x_train / np.float32(255)).astype(np.float32), (x_test / np.float32(255)).astype(np.float32)
    if r.preprocess == "center":
        # pylearn2's MNIST(center=True), which BC-M and Few-Mult load: each file is centred with its own
        # per-pixel mean, so train and validation with the 60k training mean, test with the test set's
        (x_train,) = data.center(x_train)
        (x_test,) = data.center(x_test)
    x_tr, y_tr, x_val, y_val = data.validation_split(x_train, ds_y, r.val_size)
    if r.preprocess == "standardize":
        # Torch's DataProvider normalize('simple'): the training split's scalar mean and std (unbiased)
        mean, std = float(x_tr.mean(dtype=np.float64)), float(x_tr.std(dtype=np.float64, ddof=1))
        x_tr, x_val, x_test = ((a - np.float32(mean)) / np.float32(std) for a in (x_tr, x_val, x_test))
    if subset:
        x_tr, y_tr = x_tr[:subset], y_tr[:subset]
    f = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
    return f(x_tr), y_tr, f(x_val), y_val, f(x_test), ds.y_test, ds


def build_loss(r: Recipe) -> SquaredHinge:
    """The recipe's squared hinge loss (its reduction: see :class:`~pybitnet.nn.SquaredHinge`)."""
    return SquaredHinge(r.loss_reduction)


def eval_batch_size(r: Recipe) -> int:
    """Images per forward pass when evaluating (the CNN's activations are large)."""
    return 100 if r.arch == "cnn" else 1000
