"""Every public module imports FIRST, alone, in a fresh interpreter: no import circle
hides behind an import order that happens to work (the import graph is a DAG:
cli -> train -> recipes -> {nn, optim, data} -> kernel wrappers -> _bitops;
inference -> kernel wrappers, and pybitnet.nn only in inference/convert.py)."""
import importlib.util
import pkgutil
import subprocess
import sys

import pytest

import pybitnet

MODULES = sorted(m.name for m in pkgutil.walk_packages(pybitnet.__path__, "pybitnet.")
                 if not any(part.startswith("_") for part in m.name.split(".")))
TORCH = importlib.util.find_spec("torch") is not None


def test_every_public_module_imports_first_in_a_fresh_interpreter():
    wanted = [m for m in MODULES if TORCH or not (m.startswith("pybitnet.torch") or m == "pybitnet.torch_nn")]
    assert {"pybitnet.conv_bits", "pybitnet.inference.engine", "pybitnet.data.loaders"} <= set(MODULES)
    failed = {}
    for start in range(0, len(wanted), 4):  # 4 interpreters at a time
        procs = {m: subprocess.Popen([sys.executable, "-W", "ignore::DeprecationWarning", "-c", f"import {m}"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for m in wanted[start:start + 4]}
        for m, p in procs.items():
            _, err = p.communicate(timeout=300)
            if p.returncode:
                failed[m] = err.strip().splitlines()[-1:]
    assert not failed, failed


def test_import_pybitnet_loads_neither_data_nor_inference():
    code = ("import sys, pybitnet; heavy = [m for m in ('pybitnet.data', 'pybitnet.inference', 'urllib.request', "
            "'tarfile') if m in sys.modules]; print(heavy); assert not heavy; pybitnet.data.load_mnist")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr + out.stdout


@pytest.mark.parametrize("module", ["pybitnet.inference.layers", "pybitnet.inference.engine",
                                    "pybitnet.inference.io", "pybitnet.inference.fold"])
def test_inference_imports_nn_only_through_convert(module):
    """Statically: importing any inference module runs inference/__init__.py, which imports
    convert (and so nn); the other modules must not import nn themselves."""
    import ast
    import inspect
    tree = ast.parse(inspect.getsource(importlib.import_module(module)))
    names = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [n for n in names if n in ("..nn", "nn", "pybitnet.nn") or n.startswith(("pybitnet.nn.", "nn."))], names
