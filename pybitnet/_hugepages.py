"""Weights on transparent huge pages, for models that stream every weight once per call.

A batch-1 forward pass reads each packed weight once, usually from DRAM. On 4 KiB pages
every 4 KiB of weights costs a TLB miss (a page walk whose page-table lines the last call
also evicted) and restarts the hardware stream prefetcher, which stops at page
boundaries. Placing all of a model's weights in one 2 MiB-aligned block that the kernel
is asked to back with huge pages (``madvise(MADV_HUGEPAGE)``; Linux transparent huge
pages in "madvise" or "always" mode) removes both: measured on a Zen 5 core,
xnor_gemm 1x4096x4096 with the weights cold went from 0.12 to 0.09 ms.

numpy already asks for huge pages for allocations of 4 MiB and more, but a 4096x4096
packed layer is 2 MiB and is not 2 MiB-aligned, so it never gets one.

Training streams its large arrays too: every step reads and writes each weight and its
Adam moments once. numpy's 64 MiB arrays do get huge pages (all but the partial ones at
either end), yet the fused weight-gradient + Adam update of a 4096x4096 layer took
36.8 ms on them and 20.0 ms on the same arrays in 2 MiB-aligned blocks (Zen 4, one
thread; Adam alone 15 -> 9.7 ms). Parameters and optimizer moments live in such blocks
(:func:`zeros_array`, :func:`copy_array`). Where huge pages
are not available (another OS, THP "never", mmap refused) this falls back to ordinary
memory: the arrays are the same, only slower to stream.
"""
import mmap
from typing import List, Sequence

import numpy as np

HUGE_PAGE = 2 << 20
# Below this a block would waste most of a huge page; ordinary memory is as fast.
MIN_BYTES = 1 << 20
_ALIGN = 64  # each array in a block starts on a cache line


def empty_bytes(nbytes: int) -> np.ndarray:
    """A writable uint8 array of `nbytes`, 2 MiB-aligned and advised for huge pages when
    it is at least :data:`MIN_BYTES` and the OS allows; ordinary memory otherwise."""
    return _block(nbytes)[0]


def _block(nbytes: int):
    """(:func:`empty_bytes`' array, whether it is a fresh anonymous mapping: zero-filled by
    the OS, and no page of it is committed until touched)."""
    if nbytes < MIN_BYTES or not hasattr(mmap, "MADV_HUGEPAGE"):
        return np.empty(nbytes, np.uint8), False
    size = -(-nbytes // HUGE_PAGE) * HUGE_PAGE + HUGE_PAGE  # room to align the start
    try:
        block = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    except (OSError, ValueError):
        return np.empty(nbytes, np.uint8), False
    try:
        block.madvise(mmap.MADV_HUGEPAGE)
    except OSError:  # THP off or not built in: ordinary pages, still correct
        pass
    whole = np.frombuffer(block, np.uint8)  # keeps `block` alive through .base
    start = (-whole.ctypes.data) % HUGE_PAGE
    return whole[start:start + nbytes], True


def place_together(arrays: Sequence[np.ndarray]) -> List[np.ndarray]:
    """Copies of `arrays` (same shapes, dtypes and values, C-contiguous) placed one after
    another in a single block from :func:`empty_bytes`."""
    offsets, total = [], 0
    for a in arrays:
        offsets.append(total)
        total += -(-a.nbytes // _ALIGN) * _ALIGN
    block = empty_bytes(total)
    out = []
    for a, off in zip(arrays, offsets):
        view = block[off:off + a.nbytes].view(a.dtype).reshape(a.shape)
        view[...] = a
        out.append(view)
    return out


def _shape(shape):
    return (int(shape),) if np.isscalar(shape) else tuple(int(d) for d in shape)


def _array_block(shape, dtype=np.float32):
    """(an uninitialized C-contiguous array in its own block from :func:`_block`, whether the
    block is zero already)."""
    shape, dtype = _shape(shape), np.dtype(dtype)
    block, zeroed = _block(int(np.prod(shape, dtype=np.int64)) * dtype.itemsize)
    return block.view(dtype).reshape(shape), zeroed


def zeros_array(shape, dtype=np.float32) -> np.ndarray:
    """An array of zeros in its own block. A fresh mapping is zero already and is not
    written: its pages are committed when first used, as ``np.zeros``' are."""
    out, zeroed = _array_block(shape, dtype)
    if not zeroed:
        out[...] = 0
    return out


def copy_array(a, dtype=None) -> np.ndarray:
    """A C-contiguous copy of `a` (converted to `dtype` if given) in its own block."""
    a = np.asarray(a)
    out = _array_block(a.shape, a.dtype if dtype is None else dtype)[0]
    out[...] = a
    return out
