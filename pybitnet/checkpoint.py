"""Checkpoints as .npz (loaded with allow_pickle=False; never pickle).

A checkpoint holds the model's parameters and buffers (by position in
``model.parameters()`` / ``model.modules()``), the optimizer state, and a JSON
metadata string (format version, config, epoch, history).
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

FORMAT = "pybitnet-checkpoint"
VERSION = 1


def save(path, model, optimizer=None, meta: Optional[Dict[str, Any]] = None) -> Path:
    """Write atomically (temp file + rename), so an interrupted save never leaves a broken checkpoint."""
    path = Path(path)
    arrays = {f"param/{i}": p.value for i, p in enumerate(model.parameters())}
    for i, m in enumerate(model.modules()):
        for name, value in m.buffers().items():
            arrays[f"buffer/{i}/{name}"] = np.asarray(value)
    if optimizer is not None:
        arrays.update({f"optim/{k}": np.asarray(v) for k, v in optimizer.state().items()})
    info = {"format": FORMAT, "version": VERSION, **(meta or {})}
    arrays["meta"] = np.array(json.dumps(info))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return path


def read(path) -> tuple:
    """(arrays, meta) of a checkpoint, with clear errors for missing/corrupt/foreign files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise ValueError(f"checkpoint {path} is corrupt or not an .npz file: {e}") from e
    if "meta" not in arrays:
        raise ValueError(f"checkpoint {path} has no metadata: not a pybitnet checkpoint")
    meta = json.loads(str(arrays.pop("meta")))
    if meta.get("format") != FORMAT:
        raise ValueError(f"checkpoint {path} is not a pybitnet checkpoint (format {meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise ValueError(f"checkpoint {path} has format version {meta.get('version')}, this pybitnet reads {VERSION}")
    return arrays, meta


def load_into(arrays: Dict[str, np.ndarray], model, optimizer=None, where: str = "checkpoint") -> None:
    params = model.parameters()
    n_saved = sum(k.startswith("param/") for k in arrays)
    if n_saved != len(params):
        raise ValueError(f"{where} has {n_saved} parameters, the model has {len(params)}: a different architecture")
    for i, p in enumerate(params):
        value = arrays[f"param/{i}"]
        if value.shape != p.value.shape:
            raise ValueError(f"{where}: parameter {i} ({p.name}) has shape {value.shape}, the model expects {p.shape}")
        p.value[...] = value
    for i, m in enumerate(model.modules()):
        for name in m.buffers():
            m.load_buffers({name: arrays[f"buffer/{i}/{name}"]})
    if optimizer is not None:
        optimizer.load_state({k[len("optim/"):]: v for k, v in arrays.items() if k.startswith("optim/")})
