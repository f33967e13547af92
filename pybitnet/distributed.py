"""Data-parallel training of pybitnet's numpy models over MPI (mpi4py).

``mpiexec -n N pybitnet train ...`` runs N copies of the trainer: each rank takes
its slice of every global minibatch, and after the backward pass the gradients
are averaged with one buffer ``Allreduce`` (contiguous float32, no pickling), so
every rank applies the same update and the parameters stay identical. Rank 0
alone logs, evaluates and writes checkpoints.

MPI is used only when the process was started by an MPI launcher (the
environment says so) and mpi4py is installed; a plain ``pybitnet train`` never
imports it.
"""
from __future__ import annotations

import os
import sys
from typing import Optional

import numpy as np

# Set by Open MPI, MPICH/Hydra and Slurm's PMI when they start a process.
_LAUNCHER_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK")


def launched_by_mpi() -> bool:
    return any(v in os.environ for v in _LAUNCHER_VARS)


def world():
    """``MPI.COMM_WORLD`` when started by an MPI launcher with more than one rank, else None.

    Raises ``RuntimeError`` if started by a launcher but mpi4py is missing (training
    N independent copies silently would be wrong).
    """
    if not launched_by_mpi():
        return None
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError("started by an MPI launcher but mpi4py is not installed: pip install mpi4py") from e
    comm = MPI.COMM_WORLD
    if comm.Get_size() == 1:
        return None
    _abort_on_uncaught_exception(comm)
    return comm


def _abort_on_uncaught_exception(comm) -> None:
    """An exception on one rank aborts the whole job instead of leaving the others
    blocked forever in the next collective."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        sys.stderr.write(f"pybitnet: rank {comm.Get_rank()} failed; aborting all {comm.Get_size()} ranks\n")
        sys.stderr.flush()
        comm.Abort(1)

    sys.excepthook = hook


def shard(idx: np.ndarray, rank: int, size: int) -> np.ndarray:
    """Rank `rank`'s contiguous slice of the global minibatch `idx` (sizes differ by at most one)."""
    bounds = np.linspace(0, len(idx), size + 1).round().astype(int)
    return idx[bounds[rank]:bounds[rank + 1]]


class GradientAverager:
    """Averages parameter gradients over the ranks of `comm`, weighted by each rank's batch size.

    The losses' gradients are means over the local batch, so ``sum_r n_r * g_r / sum_r n_r``
    is the gradient of the mean loss over the global batch. One preallocated float32
    buffer holds every gradient plus ``n_r``; one in-place ``Allreduce`` sums it.
    """

    def __init__(self, comm, params):
        self.comm = comm
        self.params = list(params)
        sizes = [p.value.size for p in self.params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.buffer = np.empty(self.offsets[-1] + 1, np.float32)

    def average(self, n_local: int) -> int:
        """Replace each parameter's gradient by the global average; returns the global batch size."""
        from mpi4py import MPI

        buf, off = self.buffer, self.offsets
        for p, a, b in zip(self.params, off[:-1], off[1:]):
            np.multiply(p.grad.reshape(-1), n_local, out=buf[a:b])
        buf[-1] = n_local
        self.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        total = int(round(float(buf[-1])))
        buf[:-1] /= max(1, total)
        for p, a, b in zip(self.params, off[:-1], off[1:]):
            p.grad = buf[a:b].reshape(p.value.shape).copy()
        return total


def average_buffers(comm, model) -> None:
    """Average non-trainable state (BN running statistics) over the ranks, so every rank
    (and rank 0's checkpoint) holds the same model."""
    from mpi4py import MPI

    size = comm.Get_size()
    for m in model.modules():
        for arr in m.buffers().values():
            if isinstance(arr, np.ndarray) and arr.dtype == np.float32 and arr.flags.c_contiguous:
                comm.Allreduce(MPI.IN_PLACE, arr, op=MPI.SUM)
                arr /= size


def broadcast_parameters(comm, model) -> None:
    """Rank 0's parameter values to every rank (start from one model even if inits differ)."""
    for p in model.parameters():
        comm.Bcast(p.value, root=0)


def rank_of(comm: Optional[object]) -> int:
    return 0 if comm is None else comm.Get_rank()
