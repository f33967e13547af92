"""Build of pybitnet._bitops.

The package is compiled for the baseline x86-64 CPU; only the files named
``*__<isa>.cpp`` get that ISA's flags (never -march=native), so the extension
imports everywhere and picks its kernels at run time. The ISAs and their flags
are read from src/bitops/isa_table.inc, the table the C++ also reads for the
CPU features each one needs.

Environment knobs:
  PYBITNET_SANITIZE=1   build with -fsanitize=address,undefined (see docs/DEVELOPING.md)
  PYBITNET_BUILD_JOBS=N parallel compile jobs (default 2)
"""
import os
import platform
import re
from pathlib import Path

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "pybitnet/_version.py").read_text()).group(1)
X86 = platform.machine().lower() in ("x86_64", "amd64")



def read_isa_table(path=HERE / "src/bitops/isa_table.inc"):
    """{"__<isa>": [flags]} for the ISAs of isa_table.inc that have compile flags (the x86 levels)."""
    text = re.sub(r"//[^\n]*", "", path.read_text())
    table = {}
    for name, _, flags in re.findall(r'PBN_ISA\(\s*(\w+)\s*,\s*((?:"[^"]*"\s*)+),\s*((?:"[^"]*"\s*)+)\)', text):
        flags = " ".join(re.findall(r'"([^"]*)"', flags)).split()
        if flags:
            table[f"__{name}"] = flags
    return table


ISA_FLAGS = read_isa_table()
# No -ffast-math, and no contraction into FMA: the kernels' claim is what they do not multiply.
# -fno-math-errno: sqrt sets no errno, so loops with it vectorize (we never read errno).
COMMON_FLAGS = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-Wall", "-Wextra", "-Wno-unused-parameter"]
SANITIZE = os.environ.get("PYBITNET_SANITIZE") == "1"
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]


def sources():
    files = sorted(str(p.relative_to(HERE)) for p in (HERE / "src/bitops").rglob("*.cpp"))
    if not X86:
        files = [f for f in files if not any(Path(f).stem.endswith(s) for s in ISA_FLAGS)]
    return files


def isa_flags_for(src):
    stem = Path(src).stem
    return [f for suffix, flags in ISA_FLAGS.items() if stem.endswith(suffix) for f in flags]


class BuildExt(build_ext):
    """Adds each ISA file's own flags at compile time (and only to that file)."""

    def build_extensions(self):
        compile_one = self.compiler._compile

        def _compile(obj, src, ext, cc_args, extra_postargs, pp_opts):
            return compile_one(obj, src, ext, cc_args, list(extra_postargs) + isa_flags_for(src), pp_opts)

        self.compiler._compile = _compile
        super().build_extensions()


build_flags = " ".join(COMMON_FLAGS + (SANITIZE_FLAGS if SANITIZE else []))
ext = Pybind11Extension(
    "pybitnet._bitops",
    sources(),
    cxx_std=17,
    define_macros=[("PYBITNET_VERSION", f'"{VERSION}"'), ("PYBITNET_BUILD_FLAGS", f'"{build_flags}"')],
    extra_compile_args=COMMON_FLAGS + (SANITIZE_FLAGS if SANITIZE else []),
    extra_link_args=SANITIZE_FLAGS if SANITIZE else [],
)

ParallelCompile("PYBITNET_BUILD_JOBS", default=2).install()
setup(version=VERSION, ext_modules=[ext], cmdclass={"build_ext": BuildExt})
