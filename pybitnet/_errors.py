"""The exception types pybitnet raises for bad input (see docs/DEVELOPING.md, "Errors").

- ``TypeError`` / ``ValueError`` naming the argument, for bad arguments to any
  function (wrong dtype, shape, layout, value, or a size that would overflow);
- :class:`InvalidModelFile` (a ``ValueError``) naming the file, for a model or
  checkpoint file that is corrupt, truncated, foreign, of another version or
  inconsistent; ``FileNotFoundError`` when it does not exist;
- data loaders: ``ValueError`` naming the file, ``FileNotFoundError`` for
  missing files (see :mod:`pybitnet.data`).
"""


class InvalidModelFile(ValueError):
    """A packed model file (:func:`pybitnet.inference.load`) or a training
    checkpoint (:func:`pybitnet.checkpoint.read`) that is corrupt, truncated,
    of another format or version, or whose arrays do not fit together. The
    message starts with the file's path."""
