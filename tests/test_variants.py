"""Every kernel variant of the registry (src/bitops/variants.inc, as pybitnet.variants()
lists it) against its op's scalar reference, through the bindings: ``isa=<variant
name>`` forces that variant, on a shape where its condition holds and on edge shapes
where it does not (conditions are about speed only). Skipped where the CPU lacks the
variant's ISA. Integer and bit outputs must be identical; the float weight matmuls
within the float32 summation bound of test_weight_matmul.py. The same check without
Python, under the sanitizers: tests/native/test_kernels.cpp.

Also: the registry's shape conditions are what select_variant() and the call counts report.
"""
import numpy as np
import pytest

import pybitnet
from pybitnet import _bitops
from pybitnet._kernel_cases import WEIGHT_MATMULS, case
from conftest import require_isa

VARIANTS = pybitnet.variants()
SHAPES = [(1, 1, 1), (3, 9, 65), (17, 64, 300), (5, 130, 1000)]  # (m, n, k): edges and a case of each condition


def close(got, want, op, m, n, k, seed):
    if op in WEIGHT_MATMULS:
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((m, n if op.endswith("_t") else k)).astype(np.float32)
        terms = x.shape[1]
        tol = (3 * terms + 2) * 2.0**-24 * np.abs(x.astype(np.float64)).sum(axis=1)[:, None] + 1e-37
        np.testing.assert_array_less(np.abs(got.astype(np.float64) - want), np.broadcast_to(tol, want.shape))
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("variant", [v["name"] for v in VARIANTS])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_variant_matches_reference(variant, shape):
    v = next(v for v in VARIANTS if v["name"] == variant)
    require_isa(v["isa"])
    m, n, k = shape
    seed = sum(map(ord, variant)) * 1000 + m * 100 + n * 10 + k
    run = case(v["op"], m, n, k, seed)
    if run is None:
        pytest.skip("one portable implementation, not reached by isa= (test_sampling.py)")
    before = pybitnet.kernel_calls()[v["op"]][variant]
    got = run(variant)
    assert pybitnet.kernel_calls()[v["op"]][variant] == before + 1  # the forced variant is the one that ran
    close(got, run("scalar"), v["op"], m, n, k, seed)


def test_registry_is_whole():
    ops = set(_bitops.op_names())
    assert {v["op"] for v in VARIANTS} == ops  # every op has variants, every variant an op
    for op in ops:  # ... and an unconditional scalar reference
        assert any(v["op"] == op and v["isa"] == "scalar" and v["when"] == "true" for v in VARIANTS), op
    assert len({v["name"] for v in VARIANTS}) == len(VARIANTS)
    assert set(v["isa"] for v in VARIANTS) <= set(_bitops.isa_names())


def py_condition(when):
    """A variants.inc condition (a C++ expression of m, n, k) as Python."""
    return when.replace("true", "True").replace("false", "False").replace("&&", " and ").replace("||", " or ")


def test_selection_follows_the_conditions():
    for isa in pybitnet.available_isas():
        for op in _bitops.op_names():
            for m, n, k in SHAPES + [(16, 8, 64), (15, 8, 64)]:
                rows = [v for v in VARIANTS if v["op"] == op]
                order = sorted(rows, key=lambda v: -_bitops.isa_names().index(v["isa"]))  # best ISA first, stable
                want = next(v["name"] for v in order
                            if _bitops.isa_names().index(v["isa"]) <= _bitops.isa_names().index(isa)
                            and eval(py_condition(v["when"]), {}, {"m": m, "n": n, "k": k}))
                assert pybitnet.select_variant(op, m, n, k, isa) == want, (op, isa, (m, n, k))


def test_active_kernels_name_the_variant_per_shape_class():
    kernels = pybitnet.active_kernels()
    assert set(_bitops.op_names()) <= set(kernels)
    for op, info in kernels.items():
        assert info["available"] == pybitnet.available_isas()
        names = list(info["variants"].values())
        assert names and all(isinstance(n, str) for n in names)
        if op in _bitops.op_names():
            assert pybitnet.select_variant(op, 100, 100, 100) in names
    if "avx512" == pybitnet.isa():
        assert kernels["binary_weight_matmul_t"]["variants"] == {
            "m >= 16 && k >= 128": "binary_weight_matmul_t_lut__avx512", "otherwise": "binary_weight_matmul_t__avx512"}
        assert kernels["maxpool_bits"]["variants"] == {"any shape": "maxpool_bits__scalar"}  # inherited


def test_forcing_an_unknown_or_unavailable_variant_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown ISA 'no_such_kernel'"):
        _bitops.xnor_gemm(np.zeros((1, 1), np.uint64), np.zeros((1, 1), np.uint64), 1, "no_such_kernel")
    missing = [v["name"] for v in VARIANTS if v["isa"] not in pybitnet.available_isas()]
    if missing:
        with pytest.raises(ValueError, match="not available on this CPU"):
            _bitops.pack_signs(np.ones(3, np.float32), -1, missing[0])
