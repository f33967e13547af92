"""The product's claims, checked against the built code:

- the SIMD weight kernels contain no floating-point multiply or FMA
  instruction (disassembly of the extension);
- the analytic operation counts of pybitnet.opcount equal what the
  instrumented scalar references actually do, so a formula cannot drift.
"""
import re
import shutil
import subprocess

import numpy as np
import pytest

import pybitnet
from pybitnet import _bitops, weight_matmul

KERNELS = ["binary_weight_matmul", "binary_weight_matmul_t", "ternary_weight_matmul", "ternary_weight_matmul_t"]
# Any floating-point multiply, FMA, or multiply-like op (scalar, packed, any width).
FP_MULTIPLY = re.compile(r"\b(v?mul[sp][sdh]|vf(n)?m(add|sub|addsub|subadd)\w*|v?dp[sp][sd]|vrcp\w*|vscalef\w*)\b")


def kernel_disassembly():
    """{address: (name, block)} of every function in the extension."""
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("objdump not found")
    out = subprocess.run([objdump, "-d", "-C", "--no-show-raw-insn", _bitops.__file__], capture_output=True,
                         text=True, check=True).stdout
    functions = {}
    for block in out.split("\n\n"):
        head = re.match(r"([0-9a-f]+) <(.*)>:", block.strip())
        if head:
            functions[int(head.group(1), 16)] = (head.group(2), block)
    return functions


def kernel_code(functions, symbol):
    """The instructions of `symbol` and of every internal (anonymous-namespace)
    or ISA-specific (``*__avx*``) function it calls or jumps to, transitively."""
    todo = [a for a, (name, _) in functions.items() if name.startswith(symbol)]
    assert todo, f"symbol {symbol}...) not found in the extension"
    seen, lines = set(), []
    while todo:
        addr = todo.pop()
        if addr in seen:
            continue
        seen.add(addr)
        name, block = functions[addr]
        lines += block.splitlines()
        for target in re.findall(r"\b(?:call|jmp)\s+([0-9a-f]+) <", block):
            t = int(target, 16)
            if t in functions and ("(anonymous namespace)" in functions[t][0] or "__avx" in functions[t][0]):
                todo.append(t)
    return [line.split("\t")[-1] for line in lines if "\t" in line], len(seen)


# Every SIMD variant of the weight matmuls in the registry (src/bitops/variants.inc).
SIMD_VARIANTS = [v["name"] for v in pybitnet.variants() if v["op"] in KERNELS and v["isa"] != "scalar"]


@pytest.mark.parametrize("variant", SIMD_VARIANTS)
def test_simd_kernels_have_no_float_multiply(variant):
    instructions, _ = kernel_code(kernel_disassembly(), f"pbn::{variant}(")
    assert len(instructions) > 20
    assert any(re.search(r"v(add|sub)p[sd]", i) for i in instructions)
    bad = [i for i in instructions if FP_MULTIPLY.search(i)]
    assert not bad, f"{variant} multiplies: {bad[:5]}"


def test_the_pattern_would_catch_a_multiply():
    for insn in ["vmulps %zmm1,%zmm2,%zmm3", "vfmadd231ps %zmm0,%zmm1,%zmm2", "mulss %xmm0,%xmm1",
                 "vfnmadd132ss %xmm1,%xmm2,%xmm3", "vfmsub213pd %ymm1,%ymm2,%ymm3"]:
        assert FP_MULTIPLY.search(insn), insn
    for insn in ["vaddps %zmm0,%zmm1,%zmm1{%k1}", "vsubps %ymm0,%ymm1,%ymm2", "kmovw (%rax),%k1"]:
        assert not FP_MULTIPLY.search(insn), insn


SHAPES = [(1, 1, 1), (3, 5, 70), (4, 7, 129), (2, 0, 64), (0, 3, 10), (5, 4, 0)]


@pytest.mark.parametrize("m,n,k", SHAPES)
def test_binary_counts_match_instrumented_reference(m, n, k):
    rng = np.random.default_rng(m + 10 * n + 100 * k)
    x = rng.standard_normal((m, k), dtype=np.float32)
    g = rng.standard_normal((m, n), dtype=np.float32)
    bits = pybitnet.pack_signs(rng.standard_normal((n, k), dtype=np.float32))
    formula = weight_matmul.binary_weight_matmul_ops(m, k, n)
    for op, a in (("forward", x), ("transposed", g)):
        out, adds, mults = _bitops._weight_matmul_counted(op, a, bits, None, k)
        assert (adds, mults) == (formula.additions, formula.multiplications) == (m * n * k, 0)
    with pybitnet.count_ops() as ops:
        pybitnet.binary_weight_matmul(x, bits, k)
        pybitnet.binary_weight_matmul_t(g, bits, k)
    assert ops.by_kernel["binary_weight_matmul"].additions == formula.additions
    assert ops.by_kernel["binary_weight_matmul_t"].additions == formula.additions
    assert ops.multiplications == 0 and ops.calls == 2
    assert ops.weight_bytes == 2 * 8 * n * (-(-k // 64))


@pytest.mark.parametrize("m,n,k", SHAPES)
def test_ternary_counts_match_instrumented_reference(m, n, k):
    rng = np.random.default_rng(m + 10 * n + 100 * k + 1)
    x = rng.standard_normal((m, k), dtype=np.float32)
    g = rng.standard_normal((m, n), dtype=np.float32)
    s, nz = pybitnet.ternarize(rng.standard_normal((n, k)).astype(np.float32), seed=3)
    formula = weight_matmul.ternary_weight_matmul_ops(m, k, nz)
    for op, a in (("forward", x), ("transposed", g)):
        out, adds, mults = _bitops._weight_matmul_counted(op, a, s, nz, k)
        assert (adds, mults) == (formula.additions, formula.multiplications)
        assert mults == 0
    with pybitnet.count_ops() as ops:
        pybitnet.ternary_weight_matmul(x, s, nz, k)
        pybitnet.ternary_weight_matmul_t(g, s, nz, k)
    assert ops.by_kernel["ternary_weight_matmul"].additions == formula.additions
    assert ops.by_kernel["ternary_weight_matmul_t"].additions == formula.additions
    assert ops.multiplications == 0


def test_counts_beside_the_float_baseline():
    m, k, n = 100, 784, 256
    ours = weight_matmul.binary_weight_matmul_ops(m, k, n)
    base = pybitnet.float_gemm_ops(m, k, n)
    assert ours.multiplications == 0 and base.multiplications == m * n * k
    assert ours.additions == base.additions == m * n * k
    assert base.weight_bytes >= 30 * ours.weight_bytes  # 4 bytes vs 1 bit per weight, plus row padding


def test_instrumented_reference_agrees_with_kernels():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 100), dtype=np.float32)
    bits = pybitnet.pack_signs(rng.standard_normal((4, 100), dtype=np.float32))
    out, _, _ = _bitops._weight_matmul_counted("forward", x, bits, None, 100)
    np.testing.assert_array_equal(out, _bitops.binary_weight_matmul(x, bits, 100, isa="scalar"))


@pytest.mark.parametrize("isa", ["avx512", "avx2"])
@pytest.mark.parametrize("kind", ["binary", "ternary"])
def test_lut_transposed_kernel_is_reached_and_multiplication_free(kind, isa):
    # AVX2: binary 4-entry in-lane tables, ternary 8-entry lane-crossing ones (table_t_avx2.h)
    lookup = r"vperm[it]2ps" if isa == "avx512" else r"vpermilps" if kind == "binary" else r"vpermps"
    op = f"{kind}_weight_matmul_t"
    code, _ = kernel_code(kernel_disassembly(), f"pbn::{op}_lut__{isa}")
    assert any(re.search(lookup, line) for line in code)  # the table lookup
    assert not [line for line in code if FP_MULTIPLY.search(line)]
    if isa in pybitnet.available_isas():  # and the registry sends 16+ rows there
        assert pybitnet.select_variant(op, 16, 64, 128, isa) == f"{op}_lut__{isa}"
        assert pybitnet.select_variant(op, 15, 64, 128, isa) == f"{op}__{isa}"
        assert pybitnet.select_variant(op, 16, 64, 127, isa) == f"{op}__{isa}"
