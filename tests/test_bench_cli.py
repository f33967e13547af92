"""`pybitnet bench` and `pybitnet info`, run in-process (small shapes: a few seconds)."""
import re

import pytest

import pybitnet
from pybitnet import bench
from pybitnet.cli import main

pytest.importorskip("matplotlib")


def test_bench_quick_prints_the_table_and_writes_the_png(tmp_path, capsys):
    png = tmp_path / "bench.png"
    assert main(["bench", "--quick", "--png", str(png), "--repeats", "3"]) == 0
    out = capsys.readouterr().out
    assert f"ISA {pybitnet.isa()}" in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| kernel")]
    threads = bench.thread_counts()
    assert len(rows) == len(bench.QUICK) * len(threads)
    for (kernel, shape), row in zip(bench.QUICK * len(threads), rows):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[0] == kernel and cells[1] == "x".join(map(str, shape)) and cells[2] == pybitnet.isa()
        assert float(cells[4]) > 0 and float(cells[6]) > 0
        assert re.fullmatch(r"\d+\.\d\dx", cells[7])
        if kernel == "pack_signs":
            assert cells[8] == "-"
        else:  # no multiplications against the float GEMM's m*k*n
            m, k, n = shape
            assert cells[8] == f"0 vs {m * k * n:,}"
    assert {int(r.split("|")[4]) for r in rows} == set(threads)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_measure_counts_and_names_the_baseline():
    r = bench.measure("xnor_gemm", (4, 128, 64), pybitnet.isa(), 1, repeats=2)
    assert (r.multiplications, r.baseline_multiplications, r.baseline) == (0, 4 * 128 * 64, "x @ w.T")
    assert r.speedup > 0 and r.throughput.endswith("G bit-MAC/s")
    with pytest.raises(ValueError, match="kernel"):
        bench.measure("no_such_kernel", (1, 1, 1), pybitnet.isa(), 1)


def test_info_prints_build_flags_and_active_kernels(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert pybitnet.build_info()["flags"] in out
    for op, k in pybitnet.active_kernels().items():
        when, first = next(iter(k["variants"].items()))
        assert re.search(rf"^\s+{op}\s+{re.escape(first)}\s+{re.escape(when)}$", out, re.M), op


def test_bench_training_profiles_the_stages(capsys):
    from pybitnet import cli
    from pybitnet.profiling import STAGES, training_profile

    p = training_profile("bnn", steps=1, threads=1, hidden=64, torch_baseline=False)
    assert set(p.seconds) == set(STAGES) and p.seconds["backward products"] > 0 and p.steps_per_epoch == 500
    assert cli.main(["bench", "--training", "--method", "bc", "--hidden", "64", "--threads", "1", "--repeats",
                     "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "backward products" in out and "ms per step" in out and "(after 1 untimed)" in out


def test_training_profile_warms_the_thread_planner_up():
    """More threads: 8 untimed steps by default (the planner's tries of both ways), 1 on one thread."""
    from pybitnet.profiling import training_profile

    p = training_profile("bnn", steps=1, threads=2, hidden=16, torch_baseline=False)
    assert p.warmup == 8 and len(p.per_step) == 1
    assert training_profile("bnn", steps=2, threads=1, hidden=16, torch_baseline=False).warmup == 1
    assert training_profile("bnn", steps=1, threads=2, hidden=16, torch_baseline=False, warmup=2).warmup == 2
    with pytest.raises(ValueError, match="warmup must be >= 1"):
        training_profile("bnn", steps=1, threads=1, hidden=16, torch_baseline=False, warmup=0)


def test_bench_training_cnn_beside_the_same_cnn_in_torch(capsys):
    """The CIFAR-10 BNN CNN's step beside PyTorch's: same layers (6 convs, 3 pools, 3 dense), the
    recipe's dropout, the steps interleaved; tiny widths."""
    torch = pytest.importorskip("torch")
    from pybitnet import cli, recipes
    from pybitnet.profiling import torch_float_model, torch_training_step, training_profile

    r = recipes.recipe("bnn", dataset="cifar10")
    net = torch_float_model(r, (32, 32, 3))
    convs = [m for m in net if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (3, 128, (3, 3), (1, 1)), (128, 128, (3, 3), (1, 1)), (128, 256, (3, 3), (1, 1)),
        (256, 256, (3, 3), (1, 1)), (256, 512, (3, 3), (1, 1)), (512, 512, (3, 3), (1, 1))]
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in net) == 3
    assert [(m.in_features, m.out_features) for m in net if isinstance(m, torch.nn.Linear)] == [
        (8192, 1024), (1024, 1024), (1024, 10)]
    mlp = torch_float_model(recipes.recipe("bnn"), (784,))  # input dropout 0.2, hidden 0.5, as the recipe
    assert [m.p for m in mlp if isinstance(m, torch.nn.Dropout)] == [0.2, 0.5, 0.5, 0.5]
    step = torch_training_step(recipes.recipe("bnn", dataset="cifar10", channels=4, hidden=16))
    step()
    assert step.optimizer.startswith("Adam")

    p = training_profile("bnn", "cifar10", steps=1, threads=1, channels=4, hidden=16)
    assert p.torch_seconds > 0 and p.steps_per_epoch == 900 and p.torch_optimizer.startswith("Adam")
    assert cli.main(["bench", "--training", "--dataset", "cifar10", "--channels", "4", "--hidden", "16",
                     "--threads", "1", "--repeats", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "PyTorch float32 (Adam" in out and "cifar10" in out
