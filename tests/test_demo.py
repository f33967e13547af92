"""The README's main job runs on the real MNIST files."""
import os
from pathlib import Path

import pytest

from pybitnet import demo


def test_demo_on_real_mnist(capsys):
    data = os.environ.get("PYBITNET_DATA", "")
    if not (Path(data) / "mnist" / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("real MNIST not found (set PYBITNET_DATA)")
    assert demo.main(["--data", data]) == 0
    out = capsys.readouterr().out
    assert "scores exact vs float: True" in out


def test_demo_missing_data_names_the_files(tmp_path):
    with pytest.raises(SystemExit, match="train-images-idx3-ubyte.gz"):
        demo.main(["--data", str(tmp_path)])
