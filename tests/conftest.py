"""Shared fixtures: every ISA path is tested where the CPU has it, skipped where not."""
import os
from pathlib import Path

import numpy as np
import pytest

import pybitnet

ALL_ISAS = list(pybitnet._bitops.isa_names())  # src/bitops/isa_table.inc, lowest first

# Tests read real data from ../shared/data unless PYBITNET_DATA says otherwise.
_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if "PYBITNET_DATA" not in os.environ and _SHARED.is_dir():
    os.environ["PYBITNET_DATA"] = str(_SHARED)


def require_isa(name: str) -> None:
    if name not in pybitnet.available_isas():
        pytest.skip(f"this CPU cannot run the {name} path (available: {pybitnet.available_isas()})")


@pytest.fixture(params=ALL_ISAS)
def isa(request):
    """Each ISA path in turn; skipped (never failed) where the CPU lacks it."""
    require_isa(request.param)
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def signs(x):
    """The sign convention of the bit contract, as ±1 int64 (0 and -0.0 -> +1)."""
    return np.where(np.asarray(x) < 0, -1, 1).astype(np.int64)


def rewrite_model_file(path, out, **changes):
    """A copy of an exported model file with `changes` applied (None drops a member) and a valid
    checksum, so a test reaches the check it means to reach."""
    import numpy as np

    from pybitnet.inference.io import _checksum
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    arrays.pop("checksum")
    arrays = {k: v for k, v in arrays.items() if v is not None}
    arrays["checksum"] = np.array(_checksum(arrays))
    np.savez(out, **arrays)
    return out
