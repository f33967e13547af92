"""Trainer: checkpoint round trip, resume == uninterrupted, CLI, plots, bad files."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

from pybitnet import checkpoint, cli, recipes
from pybitnet.train import Trainer

needs_mnist = pytest.mark.skipif(
    not (Path(os.environ.get("PYBITNET_DATA", "")) / "mnist").is_dir(), reason="real MNIST not found")


def small(method="float", **kw):
    return recipes.recipe(method, **{"hidden": 64, "epochs": 2, "val_size": 1000, **kw})


@needs_mnist
def test_resume_equals_uninterrupted(tmp_path):
    full = Trainer(small(), tmp_path / "a", subset=2000, progress=False)
    full.fit()
    part = Trainer(small(), tmp_path / "b", subset=2000, progress=False)
    part.fit(epochs=1)
    resumed = Trainer(small(), tmp_path / "b", subset=2000, progress=False)
    resumed.fit()
    assert resumed.epoch == 2
    for p, q in zip(full.model.parameters(), resumed.model.parameters()):
        np.testing.assert_array_equal(p.value, q.value)
    log = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2] and "ops" in log[0]
    assert (tmp_path / "b" / "curves.png").stat().st_size > 1000


@needs_mnist
def test_resume_refuses_another_recipe(tmp_path):
    Trainer(small(), tmp_path, subset=500, progress=False).fit(epochs=1)
    with pytest.raises(ValueError, match="different recipe"):
        Trainer(small(hidden_dropout=0.5), tmp_path, subset=500, progress=False).fit()
    # another --epochs would move the LR schedule under a running job: refused, with the way out named
    with pytest.raises(ValueError, match="--extend-to"):
        Trainer(small(epochs=4), tmp_path, subset=500, progress=False).fit()


@needs_mnist
def test_extend_continues_the_schedule(tmp_path):
    t = Trainer(small(), tmp_path, subset=500, progress=False)
    t.fit(epochs=3)  # past the recipe's 2 epochs: the decay goes on at the same rate
    lrs = [json.loads(line)["lr"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    r = small()
    assert lrs == pytest.approx([r.lr * (r.lr_end / r.lr) ** (e / r.epochs) for e in range(3)])
    log = tmp_path / "cli"
    args = ["train", "--method", "float", "--epochs", "2", "--subset", "500", "--hidden", "64", "--val-size",
            "1000", "--out", str(log), "--no-progress"]
    assert cli.main(args) == 0
    assert cli.main(args[:3] + args[5:] + ["--extend-to", "3"]) == 0  # --epochs taken from the checkpoint
    assert len((log / "log.jsonl").read_text().splitlines()) == 3
    assert cli.main(args[:4] + ["5"] + args[5:]) == 2  # a different --epochs on resume: a message


def test_checkpoint_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="corrupt"):
        checkpoint.read(bad)
    np.savez(tmp_path / "foreign.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="no metadata"):
        checkpoint.read(tmp_path / "foreign.npz")
    np.savez(tmp_path / "v9.npz", meta=np.array(json.dumps({"format": "pybitnet-checkpoint", "version": 9})))
    with pytest.raises(ValueError, match="version 9"):
        checkpoint.read(tmp_path / "v9.npz")
    with pytest.raises(FileNotFoundError):
        checkpoint.read(tmp_path / "missing.npz")


def test_checkpoint_shape_mismatch(tmp_path):
    a = recipes.build_model(small(), 784, 10)
    checkpoint.save(tmp_path / "a.npz", a, meta={})
    arrays, _ = checkpoint.read(tmp_path / "a.npz")
    b = recipes.build_model(small(hidden=32), 784, 10)
    with pytest.raises(ValueError, match="shape"):
        checkpoint.load_into(arrays, b)


def test_truncated_checkpoint(tmp_path):
    m = recipes.build_model(small(), 784, 10)
    path = checkpoint.save(tmp_path / "c.npz", m, meta={})
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ValueError, match="corrupt"):
        checkpoint.read(path)


def test_unknown_method():
    with pytest.raises(ValueError, match="method must be one of"):
        recipes.recipe("xnor-net")


@needs_mnist
def test_cli_train_and_evaluate(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--method", "float", "--epochs", "1", "--subset", "1000", "--hidden", "32",
                     "--val-size", "500", "--out", str(out), "--no-progress"]) == 0
    assert cli.main(["evaluate", str(out / "best.npz")]) == 0
    assert "test error" in capsys.readouterr().out
    assert cli.main(["evaluate", str(tmp_path / "nope.npz")]) == 2


@needs_mnist
def test_cli_evaluate_packed(tmp_path, capsys):
    out = tmp_path / "bnn"
    assert cli.main(["train", "--method", "bnn", "--epochs", "1", "--subset", "1000", "--hidden", "64",
                     "--val-size", "500", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", str(out / "best.npz"), "--packed"]) == 0
    text = capsys.readouterr().out
    assert "packed (InferenceModel" in text and "agrees with the trained model on 100.00 %" in text
    float_run = tmp_path / "float"
    assert cli.main(["train", "--method", "float", "--epochs", "1", "--subset", "500", "--hidden", "16",
                     "--val-size", "500", "--out", str(float_run), "--no-progress"]) == 0
    assert cli.main(["evaluate", str(float_run / "best.npz"), "--packed"]) == 2  # not a BNN: a message
    assert "error:" in capsys.readouterr().err


def test_cli_options_are_the_recipe_fields(capsys):
    """pybitnet train derives its options from Recipe's fields: a new knob is an option at once."""
    import dataclasses
    with pytest.raises(SystemExit):
        cli.main(["train", "-h"])
    text = capsys.readouterr().out
    for f in dataclasses.fields(recipes.Recipe):
        if f.metadata["cli"]:
            assert "--" + f.name.replace("_", "-") in text, f.name
    assert "--arch" not in text  # set by the dataset


@needs_mnist
def test_a_checkpoint_of_another_optimizer_is_refused(tmp_path):
    from pybitnet import optim

    t = Trainer(small(), tmp_path, subset=500, progress=False)
    t.fit(epochs=1)
    arrays, _ = checkpoint.read(tmp_path / "last.npz")
    other = optim.AdaMax(t.model.parameters())
    with pytest.raises(ValueError, match="saved by a .* optimizer, this one is adamax"):
        checkpoint.load_into(arrays, t.model, other, "last.npz")


@needs_mnist
def test_a_diverged_loss_stops_training_before_the_update(tmp_path):
    t = Trainer(small(), tmp_path, subset=500, progress=False)
    t.x_tr = t.x_tr.copy()
    t.x_tr[:] = np.nan
    before = [p.value.copy() for p in t.model.parameters()]
    with pytest.raises(FloatingPointError, match="training loss is nan at epoch 1, batch 1"):
        t.fit(epochs=1)
    for p, b in zip(t.model.parameters(), before):
        np.testing.assert_array_equal(p.value, b)


@needs_mnist
def test_cli_reports_a_diverged_run_in_one_line(tmp_path, capsys, monkeypatch):
    def diverge(self):
        raise FloatingPointError("the training loss is nan at epoch 1, batch 3: training diverged")
    monkeypatch.setattr(Trainer, "train_epoch", diverge)
    assert cli.main(["train", "--method", "float", "--epochs", "1", "--subset", "500", "--hidden", "32",
                     "--val-size", "100", "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pybitnet train: error: the training loss is nan") and "Traceback" not in err
