"""Data-parallel native training over MPI, on loopback, each run bounded by a timeout."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pybitnet import distributed, recipes

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "mpi" / "dp_train.py"


def test_shards_cover_the_batch_in_order():
    idx = np.arange(11)
    parts = [distributed.shard(idx, r, 3) for r in range(3)]
    np.testing.assert_array_equal(np.concatenate(parts), idx)
    assert sorted(len(p) for p in parts) == [4, 4, 3] or sorted(len(p) for p in parts) == [3, 4, 4]


def test_not_launched_by_mpi_means_no_communicator(monkeypatch):
    for v in distributed._LAUNCHER_VARS:
        monkeypatch.delenv(v, raising=False)
    assert distributed.world() is None


mpi = pytest.mark.skipif(shutil.which("mpiexec") is None or not (Path(os.environ.get("PYBITNET_DATA", "")) / "mnist")
                         .is_dir(), reason="needs mpiexec and real MNIST")


def mpirun(args, timeout=90):
    pytest.importorskip("mpi4py")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               PYTHONPATH=str(ROOT), PYBITNET_NUM_THREADS="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    cmd = ["mpiexec", "-n", "2", "--oversubscribe", "--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo",
           "--mca", "oob_tcp_if_include", "lo", sys.executable, *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def reference_params(out):
    """One process, the same global batches: each batch's gradient is the size-weighted mean of the
    two shards' gradients (what the ranks compute), then one optimizer step."""
    sys.path.insert(0, str(SCRIPT.parent))
    from dp_train import recipe

    from pybitnet.train import Trainer

    t = Trainer(recipe(), out, subset=900, progress=False)
    r = t.recipe
    t.optimizer = recipes.build_optimizer(r, t.model)  # gradients summed over shards before the update
    t.model.train()
    t.optimizer.lr = t.schedule(0)
    order = np.random.default_rng([r.seed, 0]).permutation(len(t.x_tr))
    params = t.model.parameters()
    for i in range(0, len(order), r.batch_size):
        idx = order[i:i + r.batch_size]
        acc = [np.zeros_like(p.value) for p in params]
        for rank in range(2):
            part = distributed.shard(idx, rank, 2)
            t.optimizer.zero_grad()
            _, grad = t.loss(t.model.forward(t.x_tr[part]), t.y_tr[part])
            t.model.backward(grad)
            for a, p in zip(acc, params):
                a += p.grad * len(part)
        for a, p in zip(acc, params):
            p.grad = a / len(idx)
        t.optimizer.step()
    return [p.value for p in params]


@mpi
def test_two_ranks_stay_identical_and_match_one_process(tmp_path):
    run = mpirun([str(SCRIPT), str(tmp_path)])
    assert run.returncode == 0, run.stdout + run.stderr
    ranks = [np.load(tmp_path / f"rank{r}.npz") for r in range(2)]
    values = [[f[k] for k in sorted(f.files, key=lambda s: int(s.split("_")[1]))] for f in ranks]
    for a, b in zip(*values):
        np.testing.assert_array_equal(a, b)  # bitwise identical on both ranks
    for a, ref in zip(values[0], reference_params(tmp_path / "ref")):
        np.testing.assert_allclose(a, ref, rtol=1e-4, atol=1e-5)


@mpi
@pytest.mark.parametrize("mode", ["die", "raise"])
def test_a_failing_rank_stops_the_job_with_an_error(tmp_path, mode):
    run = mpirun([str(SCRIPT), str(tmp_path), mode], timeout=90)  # a hang would raise TimeoutExpired
    assert run.returncode != 0
    text = (run.stdout + run.stderr).lower()
    assert "exit" in text or "abort" in text, text[-2000:]
    if mode == "raise":  # the exception hook names the rank and aborts the job
        assert "rank 1 failed; aborting all 2 ranks" in text, text[-2000:]
    assert not (tmp_path / "rank0.npz").exists()


@mpi
def test_cli_train_under_mpiexec_logs_on_rank0_only(tmp_path):
    run = mpirun(["-m", "pybitnet.cli", "train", "--method", "bc", "--hidden", "32", "--epochs", "1", "--subset",
                  "600", "--val-size", "100", "--out", str(tmp_path), "--no-progress"])
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("data parallel: 2 MPI ranks") == 1
    assert run.stdout.count("epoch 1:") == 1
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 1
    assert (tmp_path / "last.npz").is_file()
