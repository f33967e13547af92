"""The exception types pybitnet raises for bad input (see docs/DEVELOPING.md, "Errors").

- ``TypeError`` / ``ValueError`` naming the argument, for bad arguments to any
  function (wrong dtype, shape, layout, value, or a size that would overflow);
- :class:`InvalidModelFile` (a ``ValueError``) naming the file, for a model or
  checkpoint file that is corrupt, truncated, foreign, of another version or
  inconsistent; ``FileNotFoundError`` when it does not exist;
- data loaders: ``ValueError`` naming the file, ``FileNotFoundError`` for
  missing files (see :mod:`pybitnet.data`);
- :class:`NonFiniteUpdate` (a ``ValueError``) from an optimizer update whose
  gradient held NaN or Inf, or that left a NaN weight.
"""


class InvalidModelFile(ValueError):
    """A packed model file (:func:`pybitnet.inference.load`) or a training
    checkpoint (:func:`pybitnet.checkpoint.read`) that is corrupt, truncated,
    of another format or version, or whose arrays do not fit together. The
    message starts with the file's path."""


class NonFiniteUpdate(ValueError):
    """An optimizer update (``_bitops.optimizer_step``, ``_bitops.weight_grad_update``, and so
    :class:`pybitnet.optim.Optimizer`) whose gradient held NaN or Inf, or that left a NaN weight.
    The update has been written (w and the moments): restore them from a checkpoint. Raised
    from the optimizers with the step and the parameter in the message."""
