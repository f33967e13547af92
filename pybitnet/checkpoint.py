"""Checkpoints as .npz (loaded with allow_pickle=False; never pickle).

A checkpoint holds the model's parameters and buffers (by position in
``model.parameters()`` / ``model.modules()``), the optimizer state, a JSON
metadata string (format version, config, epoch, history) and a SHA-256
``checksum`` over the other members (checked when present: checkpoints of
pybitnet 0.1 have none). Written atomically; the .npz helpers are
:mod:`pybitnet._npz`'s, the packed model files' too.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from ._errors import InvalidModelFile
from ._npz import Members, checksum, read_npz, write_npz

FORMAT = "pybitnet-checkpoint"
VERSION = 1


def save(path, model, optimizer=None, meta: Optional[Dict[str, Any]] = None) -> Path:
    """Write atomically (temp file + rename), so an interrupted save never leaves a broken checkpoint."""
    path = Path(path)
    arrays = {f"param/{i}": p.view() for i, p in enumerate(model.parameters())}  # read-only: keeps packed signs
    for i, m in enumerate(model.modules()):
        for name, value in m.buffers().items():
            arrays[f"buffer/{i}/{name}"] = np.asarray(value)
    if optimizer is not None:
        arrays.update({f"optim/{k}": np.asarray(v) for k, v in optimizer.state().items()})
    info = {"format": FORMAT, "version": VERSION, **(meta or {})}
    arrays["meta"] = np.array(json.dumps(info))
    arrays["checksum"] = np.array(checksum(arrays))
    write_npz(path, arrays)
    return path


class _Meta(dict):
    """Checkpoint metadata: a missing key is an InvalidModelFile naming the file, not a KeyError."""

    def __init__(self, data, path):
        super().__init__(data)
        self.path = path

    def __missing__(self, key):
        raise InvalidModelFile(f"{self.path}: not a valid checkpoint: its metadata has no {key!r}")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_meta(meta, path) -> None:
    """The types of the fields the trainer and the CLI read back (when present)."""
    def bad(why):
        return InvalidModelFile(f"{path}: not a valid checkpoint: metadata {why}")

    if "recipe" in meta:
        r = meta["recipe"]
        if not isinstance(r, dict) or not all(isinstance(k, str) for k in r):
            raise bad(f"'recipe' must be an object, got {type(r).__name__}")
    if "epoch" in meta and not (isinstance(meta["epoch"], int) and not isinstance(meta["epoch"], bool)
                                and meta["epoch"] >= 0):
        raise bad(f"'epoch' must be an int >= 0, got {meta['epoch']!r}")
    if "best" in meta:
        b = meta["best"]
        if not isinstance(b, dict) or set(b) != {"val_error", "epoch", "test_error"}:
            raise bad(f"'best' must be an object with val_error, epoch and test_error, got {b!r}")
        if not _is_number(b["val_error"]) or not isinstance(b["epoch"], int) or isinstance(b["epoch"], bool) \
                or not (b["test_error"] is None or _is_number(b["test_error"])):
            raise bad(f"'best' has a field of the wrong type: {b!r}")


def read(path) -> tuple:
    """(arrays, meta) of a checkpoint.

    Raises FileNotFoundError if `path` does not exist, and
    :class:`~pybitnet.InvalidModelFile` (a ValueError naming the file) for a
    corrupt, truncated, foreign or wrong-version file or bad metadata.
    """
    path = Path(path)
    arrays = read_npz(path, "checkpoint (corrupt or not an .npz file)")
    if "checksum" in arrays:
        Members(arrays, lambda why: InvalidModelFile(f"checkpoint {path}: {why}")).verify_checksum()
        del arrays["checksum"]
    if "meta" not in arrays:
        raise InvalidModelFile(f"checkpoint {path} has no metadata: not a pybitnet checkpoint")
    raw = arrays.pop("meta")
    if raw.shape != () or raw.dtype.kind != "U":
        raise InvalidModelFile(f"checkpoint {path}: metadata must be a JSON string, got {raw.dtype} {raw.shape}")
    try:
        meta = json.loads(str(raw))
    except (ValueError, RecursionError) as e:
        raise InvalidModelFile(f"checkpoint {path}: metadata is not valid JSON ({e})") from e
    if not isinstance(meta, dict):
        raise InvalidModelFile(f"checkpoint {path}: metadata must be a JSON object, got {type(meta).__name__}")
    if meta.get("format") != FORMAT:
        raise InvalidModelFile(f"checkpoint {path} is not a pybitnet checkpoint (format {meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise InvalidModelFile(f"checkpoint {path} has format version {meta.get('version')}, "
                               f"this pybitnet reads {VERSION}")
    _check_meta(meta, path)
    return arrays, _Meta(meta, path)


def _checked_value(value, target: np.ndarray, what: str, where: str) -> np.ndarray:
    """`value` if it can be stored into `target` without losing anything but precision: real, of
    `target`'s shape, finite once in `target`'s dtype (a NaN weight or batch-norm statistic evaluated
    to a wrong accuracy without an error; 1e300 became Inf in float32), whole where `target` is an
    integer."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        kind = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
        raise InvalidModelFile(f"{where}: {what} has dtype {kind}; a real number array was expected "
                               "(a complex value would lose its imaginary part)")
    if value.shape != np.shape(target):
        raise InvalidModelFile(f"{where}: {what} has shape {value.shape}, the model expects {np.shape(target)}")
    target_dtype = np.asarray(target).dtype
    if value.dtype.kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            stored = value.astype(target_dtype) if target_dtype.kind == "f" else value
        if not np.isfinite(stored).all():
            raise InvalidModelFile(f"{where}: {what} holds NaN or Inf" +
                                   (f" (once stored as {target_dtype})" if np.isfinite(value).all() else ""))
        if target_dtype.kind in "iu" and not (value == np.floor(value)).all():
            raise InvalidModelFile(f"{where}: {what} must hold whole numbers, got {value[value != np.floor(value)][:3]}")
    return value


def load_into(arrays: Dict[str, np.ndarray], model, optimizer=None, where: str = "checkpoint") -> None:
    """Copy a checkpoint's arrays into `model` (and `optimizer`). Raises
    :class:`~pybitnet.InvalidModelFile` (a ValueError) naming `where` if they do
    not fit: another architecture, a missing array, a wrong shape or dtype."""
    params = model.parameters()
    n_saved = sum(k.startswith("param/") for k in arrays)
    if n_saved != len(params):
        raise InvalidModelFile(f"{where} has {n_saved} parameters, the model has {len(params)}: "
                               "a different architecture")
    for i, p in enumerate(params):
        if f"param/{i}" not in arrays:
            raise InvalidModelFile(f"{where} has no param/{i}")
        value = _checked_value(arrays[f"param/{i}"], p.value, f"parameter {i} ({p.name})", where)
        p.value[...] = value
    for i, m in enumerate(model.modules()):
        for name, current in m.buffers().items():
            key = f"buffer/{i}/{name}"
            if key not in arrays:
                raise InvalidModelFile(f"{where} has no {key}: a different architecture")
            m.load_buffers({name: _checked_value(arrays[key], current, key, where)})
    if optimizer is not None:
        state = {k[len("optim/"):]: v for k, v in arrays.items() if k.startswith("optim/")}
        try:
            optimizer.check_kind(state)
        except ValueError as e:
            raise InvalidModelFile(f"{where}: {e}") from e
        current = optimizer.state()
        del current["kind"]  # a string, compared by load_state; absent from pybitnet 0.1's checkpoints
        missing = sorted(set(current) - set(state))
        if missing:
            raise InvalidModelFile(f"{where}: optimizer state lacks {missing}: saved by another optimizer")
        for k in current:
            _checked_value(state[k], current[k], f"optim/{k}", where)
        try:
            optimizer.load_state(state)
        except (TypeError, ValueError) as e:
            raise InvalidModelFile(f"{where}: {e}") from e
