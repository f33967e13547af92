"""Property-based suite over every public kernel (hypothesis): random shapes including
0/1/63/64/65, element offsets and strided rows, every ISA the CPU has, each checked
against an oracle that does not use the kernels (numpy) or the scalar reference.

The cases live in tests/kernel_cases.py, shared with the coverage-guided fuzzer
(fuzz/fuzz_kernels.py); adding an op there adds it here. ``PYBITNET_HYPOTHESIS_EXAMPLES``
raises the number of examples per op for a longer local run.
"""
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernel_cases import ABUSE, CASES, HypothesisSource, abuse

EXAMPLES = int(os.environ.get("PYBITNET_HYPOTHESIS_EXAMPLES", "25"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("op", sorted(CASES))
def test_kernel_matches_its_oracle(op):
    @SETTINGS
    @given(st.data())
    def run(data):
        CASES[op](HypothesisSource(data))
    run()


@settings(max_examples=8 * EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_public_functions_take_any_argument(data):
    """Arbitrary arguments: a result, TypeError or ValueError; nothing else, no crash."""
    abuse(HypothesisSource(data))


def test_abuse_covers_every_case():
    assert len(ABUSE) >= len(CASES)
