"""benchmarks/peers/compare.py without its peer: the LCE side runs in another
venv, so only the pybitnet-side helpers are checked here (the script itself is
run by hand, see benchmarks/peers/README.md)."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
compare = pytest.importorskip("benchmarks.peers.compare")


def test_cell_marks_ratios_below_the_goal():
    assert compare.cell(None, 10.0) == ("n/a", "n/a")
    assert compare.cell(1.0, 10.0) == ("1.000", "10.0x")
    assert compare.cell(4.0, 10.0) == ("4.000", "2.5x (< 5x)")


def test_cnn_hook_absent_until_built(monkeypatch):
    monkeypatch.setitem(sys.modules, "benchmarks.cnn_inference", None)  # import fails
    assert compare.pybitnet_cnn(1) is None


def test_cnn_hook_accepts_callable_or_model_pair(monkeypatch):
    class Model:
        def logits(self, x):
            return x

    fake = type(sys)("benchmarks.cnn_inference")
    fake.build_random_cnn = lambda batch: (Model(), batch)
    monkeypatch.setitem(sys.modules, "benchmarks.cnn_inference", fake)
    assert compare.pybitnet_cnn(3)["float32"]() == 3
    fake.build_random_cnn = lambda batch: (lambda: batch * 2)
    assert compare.pybitnet_cnn(3)["float32"]() == 6


def test_measure_interleaves_and_takes_medians(monkeypatch):
    monkeypatch.setattr(compare, "use_threads", lambda n: None)  # keep this process's thread settings
    class FakeLce:
        def __init__(self):
            self.calls = []

        def time(self, model, batch, threads, repeats, between="warm"):
            self.calls.append((model, batch))
            assert between == "warm"
            return {"median_ms": float(len(self.calls)), "lce_ops": {"LceBconv2d": 3}, "ops": {}}

    lce = FakeLce()
    cases = {("mlp", 1): {"float32": lambda: None}, ("cnn", 1): None}
    results = compare.measure(lce, cases, threads=1, rounds=3)
    assert lce.calls == [("mlp", 1), ("cnn", 1)] * 3
    assert results["mlp", 1]["lce"] == 3.0  # median of 1, 3, 5
    assert results["cnn", 1]["lce"] == 4.0
    assert "float32" in results["mlp", 1] and "float32" not in results["cnn", 1]
    json.dumps({str(k): v for k, v in results.items()})


def test_between_modes_run_before_each_call(monkeypatch):
    seen = []
    monkeypatch.setitem(compare.BETWEEN, "sleep5", lambda: seen.append("pause"))
    ms = compare.median_ms(lambda: seen.append("call"), repeats=3, warmup=1, between="sleep5")
    assert ms >= 0 and seen == ["call"] + ["pause", "call"] * 3
    assert set(compare.BETWEEN) == {"warm", "sleep5", "cold"}
