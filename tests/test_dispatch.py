"""Run-time dispatch: detection, the PYBITNET_ISA override, and which variant ran."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import pybitnet
from conftest import ALL_ISAS, require_isa

PROBE = """
import json, numpy as np, pybitnet
a = pybitnet.pack_signs(np.ones((4, 300), np.float32))
pybitnet.xnor_gemm(a, a, 300)
print(json.dumps({"isa": pybitnet.isa(), "available": pybitnet.available_isas(),
                  "calls": pybitnet.kernel_calls(by="isa")}))
"""


def run_probe(**env):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PYBITNET_ISA")}
    full_env.update(env)
    proc = subprocess.run([sys.executable, "-c", PROBE], env=full_env, capture_output=True, text=True, timeout=120)
    return proc


def test_detection_is_consistent():
    feats = pybitnet.cpu_features()
    avail = pybitnet.available_isas()
    assert avail[-1] == "scalar"
    if "PYBITNET_ISA" not in os.environ:
        assert pybitnet.isa() == avail[0]
    assert ("avx2" in avail) == all(feats.get(f, False) for f in ("avx2", "popcnt", "bmi1", "bmi2"))
    needs_512 = ("avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512vpopcntdq")
    assert ("avx512" in avail) == ("avx2" in avail and all(feats.get(f, False) for f in needs_512))
    # ZMM use requires the OS to save ZMM state (XGETBV), not just CPUID.
    assert not feats.get("avx512f") or feats["os_zmm"]


@pytest.mark.parametrize("name", ALL_ISAS)
def test_forced_isa_is_the_one_that_ran(name):
    require_isa(name)
    proc = run_probe(PYBITNET_ISA=name)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["isa"] == name
    for op in ("pack_signs", "xnor_gemm"):
        ran = {isa for isa, calls in out["calls"][op].items() if calls}
        assert ran == {name}, (op, out["calls"][op])


def test_unknown_isa_fails_at_import():
    proc = run_probe(PYBITNET_ISA="neon")
    assert proc.returncode != 0
    assert "PYBITNET_ISA=neon: unknown ISA 'neon'" in proc.stderr


def test_unavailable_isa_fails_at_import_with_reason():
    # Masking a feature simulates a CPU without it (like NPY_DISABLE_CPU_FEATURES).
    proc = run_probe(PYBITNET_ISA="avx512", PYBITNET_DISABLE_CPU_FEATURES="avx512vpopcntdq")
    assert proc.returncode != 0
    # the masked feature is named among the missing (a CPU without AVX-512 names the others too)
    missing = re.search(r"missing: ([\w, ]+)\)", proc.stderr)
    assert "ImportError" in proc.stderr and missing and "avx512vpopcntdq" in missing.group(1).split(", ")


@pytest.mark.parametrize("masked,best", [("avx512f", "avx2"), ("avx2", "scalar"), ("os_ymm,avx2,avx512f", "scalar")])
def test_fallback_ladder_ends_in_scalar(masked, best):
    proc = run_probe(PYBITNET_DISABLE_CPU_FEATURES=masked)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    if best not in pybitnet.available_isas():
        pytest.skip(f"{best} not available here")
    assert out["isa"] == best and out["available"][-1] == "scalar"


def test_active_kernels_lists_every_op():
    kernels = pybitnet.active_kernels()
    assert {"pack_signs", "xnor_gemm"} <= set(kernels)
    isa_of = {v["name"]: v["isa"] for v in pybitnet.variants()}
    for op, info in kernels.items():
        assert info["available"] == pybitnet.available_isas()
        for name in info["variants"].values():  # each variant is the active ISA's or inherited from a lower one
            for part in name.split(" + "):
                assert pybitnet.available_isas().index(isa_of[part]) >= pybitnet.available_isas().index(pybitnet.isa())


def test_kernel_calls_per_variant_and_per_isa():
    a = pybitnet.pack_signs(np.ones((4, 300), np.float32))
    before, before_isa = pybitnet.kernel_calls(), pybitnet.kernel_calls(by="isa")
    pybitnet.xnor_gemm(a, a, 300)
    ran = pybitnet.select_variant("xnor_gemm", 4, 4, 300)
    assert pybitnet.kernel_calls()["xnor_gemm"][ran] == before["xnor_gemm"][ran] + 1
    assert pybitnet.kernel_calls(by="isa")["xnor_gemm"][pybitnet.isa()] == before_isa["xnor_gemm"][pybitnet.isa()] + 1
    with pytest.raises(ValueError, match="by must be"):
        pybitnet.kernel_calls(by="op")


def test_explicit_isa_unavailable_is_a_clear_error():
    missing = [i for i in ALL_ISAS if i not in pybitnet.available_isas()]
    if not missing:
        pytest.skip("this CPU has every ISA")
    with pytest.raises(ValueError, match="not available on this CPU"):
        pybitnet._bitops.pack_signs(np.ones(3, np.float32), -1, missing[0])


def test_cli_info():
    proc = subprocess.run([sys.executable, "-m", "pybitnet.cli", "info"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"active ISA:     {pybitnet.isa()}" in proc.stdout


def test_isa_table_is_the_one_list():
    """setup.py's compile flags and asv's ISA matrix come from src/bitops/isa_table.inc."""
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    table = (root / "src/bitops/isa_table.inc").read_text()
    names = re.findall(r"^PBN_ISA\((\w+),", table, re.M)
    assert names == pybitnet._bitops.isa_names()
    asv = (root / "asv.conf.json").read_text()
    matrix = json.loads(re.sub(r"(?m)^\s*//.*$", "", asv))["matrix"]["env_nobuild"]["PYBITNET_ISA"]
    assert sorted(matrix) == sorted(names)
    setup = (root / "setup.py").read_text()
    assert "read_isa_table" in setup and "-mavx" not in setup  # flags only in the table
