"""Build of pybitnet._bitops.

The package is compiled for the baseline x86-64 CPU; only the files named
``*__<isa>.cpp`` get that ISA's flags (never -march=native), so the extension
imports everywhere and picks its kernels at run time. The ISAs and their flags
are read from src/bitops/isa_table.inc, the table the C++ also reads for the
CPU features each one needs.

``python setup.py build_native`` builds the kernel test binary
build/native/test_kernels (no Python: every variant against its reference; see
tests/native/), with PYBITNET_SANITIZE=1 under ASan/UBSan.

Environment knobs:
  PYBITNET_SANITIZE=1   build with -fsanitize=address,undefined (see docs/DEVELOPING.md)
  PYBITNET_BUILD_JOBS=N parallel compile jobs (default 2)
"""
import os
import platform
import re
from pathlib import Path

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import Command, setup

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


def sources(bindings=True):
    """The extension's C++ files (without bindings: the kernels, drivers and runtime alone)."""
    files = sorted(str(p.relative_to(HERE)) for p in (HERE / "src/bitops").rglob("*.cpp"))
    if not X86:
        files = [f for f in files if not any(Path(f).stem.endswith(s) for s in ISA_FLAGS)]
    if not bindings:
        files = [f for f in files if not Path(f).name.startswith("bind_") and Path(f).name != "module.cpp"]
    return files


def isa_flags_for(src):
    stem = Path(src).stem
    return [f for suffix, flags in ISA_FLAGS.items() if stem.endswith(suffix) for f in flags]


def add_isa_flags(compiler):
    """Makes `compiler` add each ISA file's own flags (and only to that file)."""
    compile_one = compiler._compile

    def _compile(obj, src, ext, cc_args, extra_postargs, pp_opts):
        return compile_one(obj, src, ext, cc_args, list(extra_postargs) + isa_flags_for(src), pp_opts)

    compiler._compile = _compile


class BuildExt(build_ext):
    """Adds each ISA file's own flags at compile time (and only to that file)."""

    def build_extensions(self):
        add_isa_flags(self.compiler)
        super().build_extensions()


class BuildNative(Command):
    """Builds build/native/test_kernels: the kernels, drivers and registry with the
    native tests (tests/native/*.cpp), no Python. PYBITNET_SANITIZE=1 adds ASan/UBSan."""

    description = "build the native kernel tests (build/native/test_kernels)"
    user_options = []

    def initialize_options(self):
        pass

    def finalize_options(self):
        pass

    def run(self):
        from setuptools._distutils.ccompiler import new_compiler
        from setuptools._distutils.sysconfig import customize_compiler

        compiler = new_compiler()
        customize_compiler(compiler)
        add_isa_flags(compiler)
        out = HERE / "build" / ("native-sanitize" if SANITIZE else "native")
        srcs = sources(bindings=False) + sorted(str(p.relative_to(HERE)) for p in (HERE / "tests/native").glob("*.cpp"))
        flags = ["-std=c++17", "-g", "-pthread"] + COMMON_FLAGS + (SANITIZE_FLAGS if SANITIZE else [])
        objects = compiler.compile(srcs, output_dir=str(out / "obj"), include_dirs=[str(HERE / "src/bitops")],
                                   extra_postargs=flags)
        compiler.link_executable(objects, "test_kernels", output_dir=str(out),
                                 extra_postargs=["-pthread"] + (SANITIZE_FLAGS if SANITIZE else []),
                                 target_lang="c++")
        print(f"built {out / 'test_kernels'}")


build_flags = " ".join(COMMON_FLAGS + (SANITIZE_FLAGS if SANITIZE else []))
ext = Pybind11Extension(
    "pybitnet._bitops",
    sources(),
    cxx_std=17,
    define_macros=[("PYBITNET_VERSION", f'"{VERSION}"'), ("PYBITNET_BUILD_FLAGS", f'"{build_flags}"')],
    extra_compile_args=COMMON_FLAGS + (SANITIZE_FLAGS if SANITIZE else []),
    extra_link_args=SANITIZE_FLAGS if SANITIZE else [],
    # A header or .inc edit alone must rebuild too: without these, build_ext found every .cpp older
    # than the module and kept a stale build (a kernel change once measured on the old code).
    depends=sorted(str(p.relative_to(HERE)) for ext in ("*.h", "*.inc") for p in (HERE / "src/bitops").rglob(ext)),
)

ParallelCompile("PYBITNET_BUILD_JOBS", default=2).install()
setup(version=VERSION, ext_modules=[ext], cmdclass={"build_ext": BuildExt, "build_native": BuildNative})
