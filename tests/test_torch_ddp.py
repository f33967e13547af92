"""The DistributedDataParallel example (gloo, torchrun, loopback) runs a few steps on 2 processes."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not (Path(os.environ.get("PYBITNET_DATA", "")) / "mnist").is_dir(), reason="real MNIST not found")
def test_ddp_example_two_processes(tmp_path):
    with socket.socket() as s:  # a free port on loopback
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
           "--master-port", str(port), str(ROOT / "examples" / "ddp_mnist_bnn.py"), "--subset", "2000", "--hidden", "64",
           "--max-steps", "5", "--save", str(tmp_path / "model.pt")]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "2 processes: 5 steps" in run.stdout
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    assert state["0.weight"].shape == (64, 784)
