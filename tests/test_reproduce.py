"""pybitnet reproduce: the row table, the log summary (model selection, time to accuracy), the CLI."""
import json

import pytest

from pybitnet import cli, reproduce


def write_log(path, rows):
    path.mkdir(parents=True)
    (path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def rec(epoch, val, test, secs=10.0):
    return {"epoch": epoch, "val_error": val, "test_error": test, "epoch_time_s": secs}


def test_summary_selects_the_last_best_validation_epoch_and_times_the_paper():
    log = [rec(1, 0.03, 0.031), rec(2, 0.012, 0.0135), rec(3, 0.012, 0.0128), rec(4, 0.013, 0.0125)]
    s = reproduce.summarize_log(log, paper=1.29)
    assert s["best_epoch"] == 3 and s["test"] == pytest.approx(1.28)  # ties: the last (val <= best)
    assert s["first"]["paper"] == (3, 30.0) and s["first"]["paper+0.2"] == (2, 20.0)
    assert s["epochs"] == 4 and s["wall_s"] == 40.0
    assert reproduce.summarize_log(log, 1.29, upto=2)["best_epoch"] == 2


def test_table_from_runs_with_a_reference(tmp_path, capsys):
    write_log(tmp_path / "mnist-bc", [rec(1, 0.02, 0.021), rec(2, 0.013, 0.0131)])
    write_log(tmp_path / "reference-mnist-bc", [rec(1, 0.02, 0.02), rec(2, 0.012, 0.0125), rec(3, 0.01, 0.011)])
    assert cli.main(["reproduce", "mnist", "--rows", "bc,bnn", "--out", str(tmp_path), "--table",
                     "--png-dir", str(tmp_path / "png")]) == 0
    out = capsys.readouterr().out
    assert "| bc (BinaryConnect, deterministic) | 1.29 % | 1.31 % (epoch 2) | 2 |" in out
    assert "yes | 2 epochs: reference 1.25 %, pybitnet 1.31 %" in out  # at equal epochs, not the reference's 3rd
    assert "| bnn (BNN Theano, 3x4096) | 0.96 % | not run" in out
    assert (tmp_path / "png" / "mnist-bc.png").stat().st_size > 1000


def test_unknown_row():
    with pytest.raises(ValueError, match="unknown"):
        reproduce.rows_named(["bc", "xnor"])
    assert cli.main(["reproduce", "mnist", "--rows", "nope", "--table"]) == 2
