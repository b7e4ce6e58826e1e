"""`python -m evaluate.report`: the results block is rewritten in place, the text around it kept."""

from __future__ import annotations

from pathlib import Path

from evaluate.metrics import Summary
from evaluate.report import BEGIN, CASES, END, main, table


def test_commands_reproduce_each_row():
    commands = [case.command() for case in CASES]
    assert "alpr eval images ../shared/data/openalpr-us --json" in commands
    assert "alpr eval crops ../shared/data/us-plates-ocr --skip-label 0 --json" in commands
    assert "alpr eval crops ../shared/data/uc3m-ocr --split test --json" in commands
    split = "python -m training.splits /tmp/us-plates-split && alpr eval crops /tmp/us-plates-split --split test --json"
    assert split in commands


def test_every_row_says_what_its_split_is():
    """No row is held out (docs/accuracy.md, "Splits"); each says so, or that it is training data."""
    for case in CASES:
        assert "not held out" in case.what or "training-set figure" in case.what, case.what


def test_table_rows():
    from config.settings import Settings

    block = table([(CASES[0], Summary(222, 0.9459, 0.7658, 0.8937, 268.1)), (CASES[1], None)], Settings())
    assert block.startswith(BEGIN) and block.endswith(END)
    assert f"| openalpr-us | {CASES[0].what} | 222 | 0.946 | 0.766 | 0.894 | 268 |" in block
    assert "| us-plates-ocr |" in block and "data absent" in block


def test_main_keeps_the_text_around_the_block(tmp_path: Path):
    out = tmp_path / "accuracy.md"
    out.write_text(f"# Title\n\nbefore\n\n{BEGIN}\nold table\n{END}\n\nafter\n", encoding="utf-8")
    assert main(["--data", str(tmp_path / "no-data"), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\nbefore\n\n" + BEGIN) and text.endswith(END + "\n\nafter\n")
    assert "old table" not in text and text.count("data absent") == len(CASES)
