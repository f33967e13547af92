"""benchmarks/speed_table.py (issue 16's table) in its tiny mode: every row is produced and the
table is well formed. No timing is asserted: speed lives in the benchmarks."""
import re

import pytest

speed_table = pytest.importorskip("benchmarks.speed_table")


def test_tiny_run_prints_every_row_of_the_issue(tmp_path, capsys):
    out_file = tmp_path / "table.md"
    assert speed_table.main(["--tiny", "--out", str(out_file)]) == 0
    out = capsys.readouterr().out
    assert out_file.read_text() == out
    assert "CPU: " in out and "pybitnet.isa() = " in out and "shared" in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| what")]
    numbers = [row.split("|")[1].strip().split(".")[0] for row in rows]
    # 1a-1c (the second thread count only when the machine has 2 threads configured), 2 .. 8
    for n in ("1a", "2", "3", "4", "5", "6", "7", "8"):
        assert n in numbers, (n, numbers)
    assert numbers == sorted(numbers)  # the issue's order
    for row in rows:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert len(cells) == 5 and all(cells[:3]), row
        assert cells[3] in ("n/a (tiny)", "-"), row  # tiny shapes are never held to the targets
    lce = next(row for row in rows if row.startswith("| 7."))
    assert "not measured" in lce


def test_verdicts_and_the_table_format():
    rows = [speed_table.Row("3. x", "0.1 ms", "<= 0.10 ms", True, "ceiling"),
            speed_table.Row("5. y", "20 GB/s", ">= 25 GB/s", False, "47 GB/s"),
            speed_table.Row("7. z", "not measured", "5x", None, "no build")]
    table = speed_table.format_table(rows)
    assert re.search(r"^\| 3\. x \| 0\.1 ms \| <= 0\.10 ms \| yes \| ceiling \|$", table, re.M)
    assert "| **no** |" in table and "| - |" in table
    assert "n/a (tiny)" in speed_table.format_table(rows, judged=False)
