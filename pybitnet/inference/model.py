"""Deprecated: pybitnet 0.1's MLP engine module. The engine is :mod:`.engine`
(:class:`~.engine.InferenceModel` is the MLP case), its layers are typed (:mod:`.layers`)."""
import warnings

from .convert import from_trained  # noqa: F401
from .engine import InferenceModel  # noqa: F401
from .layers import Affine, FloatThreshold, PackedDense, RealDense, Threshold


def PackedLayer(kind: str, in_features: int, weight_bits, a, b):
    """pybitnet 0.1's dense layer, ``kind`` "float_threshold" (the first), "threshold"
    or "affine" with epilogue arrays a, b: the typed layer it stands for."""
    if kind == "float_threshold":
        return RealDense(weight_bits, in_features, FloatThreshold(a, b))
    epilogue = {"threshold": Threshold, "affine": Affine}[kind](a, b)
    return PackedDense(weight_bits, in_features, epilogue)


warnings.warn("pybitnet.inference.model is deprecated: use pybitnet.inference (InferenceModel, from_trained) "
              "and pybitnet.inference.layers", DeprecationWarning, stacklevel=2)
