"""The wheel (what `pip install .` and asv's environments get) must hold every subpackage."""
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")
ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_found_by_pyproject():
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    from setuptools import find_packages
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "pybitnet").rglob("__init__.py")}
    assert found <= set(find_packages(str(ROOT), include=find["include"]))


def test_the_torch_extra_has_no_upper_bound():
    """A newer torch in the user's environment must satisfy the extra, so pip leaves it untouched
    (the cap <=2.13.0 silently downgraded torch and broke torchvision). CI pins in a constraints file."""
    from packaging.requirements import Requirement
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["torch"]
    (req,) = [Requirement(r) for r in extra]
    assert req.name == "torch"
    for newer in ("2.13.1", "2.14.0", "3.0", "99.0"):
        assert req.specifier.contains(newer), newer
    assert not req.specifier.contains("2.3.1")  # custom_op + register_autograd need 2.4
    assert "torch==" in (ROOT / ".ci" / "constraints.txt").read_text()


def test_sdist_manifest_holds_every_source_file():
    """The sdist builds the extension: every file under src/ must match MANIFEST.in."""
    manifest = (ROOT / "MANIFEST.in").read_text()
    exts = {e for line in manifest.splitlines() if line.startswith("recursive-include src") for e in line.split()[2:]}
    for f in (ROOT / "src").rglob("*"):
        if f.is_file():
            assert f"*{f.suffix}" in exts, f"{f.relative_to(ROOT)} would be missing from the sdist"
