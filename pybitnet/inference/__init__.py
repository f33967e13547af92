"""Inference for trained BNNs: batch norm folded into the kernels' epilogues,
packed models on disk (:func:`export` / :func:`load`) and an
:class:`InferenceModel` running only packed kernels. See docs/INFERENCE.md."""
from .fold import bn_eval, fold_bn_affine, fold_bn_sign, fold_bn_sign_float

__all__ = ["bn_eval", "fold_bn_affine", "fold_bn_sign", "fold_bn_sign_float"]
