"""`alpr eval crops|images` end to end: labels, the product's reading path, JSON and CSV output."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner

from evaluate.cli import eval_
from evaluate.labels import EvalError, read_labels
from tests.ocr.test_preprocess import plate
from tests.operators.builders import drawn_plate
from tests.shared_data import require_data

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def crops_dir(tmp_path_factory) -> Path:
    """Two rendered plates, a masked label, and an image file that does not decode."""
    folder = tmp_path_factory.mktemp("crops")
    cv2.imwrite(str(folder / "a.png"), plate(["ABC1234"]))
    cv2.imwrite(str(folder / "b.png"), plate(["XY987"]))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "labels.csv").write_text(
        "image,x,y,w,h,plate,split\n"
        "a.png,0,0,320,90,ABC-1234,test\n"
        "b.png,0,0,320,90,X?987,test\n"
        "broken.jpg,0,0,10,10,QQ11,test\n"
        "a.png,0,0,320,90,ABC1234,train\n",
        encoding="utf-8",
    )
    return folder


def test_crops_json_is_the_only_stdout(crops_dir: Path, tmp_path: Path):
    out = tmp_path / "pred.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "alpr.cli", "eval", "crops", str(crops_dir), "--split", "test", "--json",
         "--formats", "none", "--out", str(out)],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["n"] == 3
    assert summary["exact_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert summary["detection_recall"] == 1.0
    assert isinstance(summary["ms_per_image"], float)
    assert "eval crops 3/3" in proc.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["image"], r["read"], r["exact"]) for r in rows] == [
        ("a.png", "ABC1234", "True"),
        ("b.png", "XY987", "True"),
        ("broken.jpg", "", "False"),
    ]


def test_crops_text_report_and_limit(crops_dir: Path):
    result = CliRunner().invoke(eval_, ["crops", str(crops_dir), "--limit", "1", "--formats", "none"])
    assert result.exit_code == 0, result.output
    assert "exact_accuracy: 1.0" in result.output and "n: 1" in result.output


def test_crops_split_without_column(tmp_path: Path):
    (tmp_path / "labels.csv").write_text("image,x,y,w,h,plate\na.png,0,0,5,5,AB\n", encoding="utf-8")
    result = CliRunner().invoke(eval_, ["crops", str(tmp_path), "--split", "test"])
    assert result.exit_code != 0
    assert "no 'split' column" in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("image,x,y,plate\n", "missing column(s) w, h"),
        ("image,x,y,w,h,plate\na.png,0,0,wide,5,AB\n", "labels.csv:2: box x,y,w,h must be integers"),
        ("image,x,y,w,h,plate\na.png,0,0,0,5,AB\n", "labels.csv:2: empty image name or non-positive box"),
    ],
)
def test_bad_labels(tmp_path: Path, text: str, message: str):
    (tmp_path / "labels.csv").write_text(text, encoding="utf-8")
    with pytest.raises(EvalError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_labels(tmp_path)


def test_missing_labels_file(tmp_path: Path):
    result = CliRunner().invoke(eval_, ["crops", str(tmp_path)])
    assert result.exit_code != 0 and "cannot read labels" in result.output


def test_images_on_real_photos(tmp_path: Path):
    """The detector -> crop -> OCR path on three openalpr-us photos."""
    data = require_data("openalpr-us/labels.csv")
    out = tmp_path / "pred.csv"
    result = CliRunner().invoke(
        eval_, ["images", str(data / "openalpr-us"), "--limit", "3", "--json", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["n"] == 3
    assert summary["detection_recall"] >= 2 / 3  # the detector finds 94% of these plates
    assert summary["ms_per_image"] > 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 3 and all(float(r["best_iou"]) >= 0 for r in rows)


def test_unknown_format_preset_is_a_clean_error(crops_dir: Path):
    result = CliRunner().invoke(eval_, ["crops", str(crops_dir), "--formats", "XX"])
    assert result.exit_code != 0 and "unknown preset 'XX'" in result.output


def test_out_adds_error_classes_and_formats_and_a_region_column_gives_region_accuracy(tmp_path: Path):
    folder = tmp_path / "regional"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), plate(["1234 BCD"]))
    cv2.imwrite(str(folder / "b.png"), plate(["ABC1234"]))
    (folder / "labels.csv").write_text(
        "image,x,y,w,h,plate,region\na.png,0,0,320,90,1234BCD,ES\nb.png,0,0,320,90,ABC1234,\n", encoding="utf-8"
    )
    out = tmp_path / "pred.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "alpr.cli", "eval", "crops", str(folder), "--json", "--formats", "ES,US",
         "--out", str(out)],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["region_n"] == 1  # b.png names no region
    assert set(summary["errors"]) == {"undetected", "not_read", "look_alike", "extra_text", "missing_character",
                                      "misread"}  # fmt: skip
    assert summary["formats"]["ES NNNNLLL"][1] == 1
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["label_region"] for r in rows] == ["ES", ""]
    assert rows[0]["label_format"] == "ES NNNNLLL"
    assert summary["region_accuracy"] == (1.0 if rows[0]["region"] == "ES" else 0.0)
    # The folder is one site: a read one country clearly holds is counted in its learned mix.
    assert 1 <= summary["region_mix"]["reads"] <= 2
    assert (summary["region_mix"].get("ES", 0) > 0) == (rows[0]["region"] == "ES")
    # A crop is looked at for a European band where that could change its region: not for these
    # two strings, each held by one country's formats of ES and US.
    assert summary["bands"] == {}
    assert all(r["error"] == ("" if r["exact"] == "True" else r["error"]) for r in rows)
    assert sum(summary["errors"].values()) == sum(r["exact"] == "False" for r in rows)


def test_site_and_camera_read_under_the_presets_the_config_names_for_them(tmp_path: Path):
    folder = tmp_path / "spain"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), plate(["1234 BCD"]))
    (folder / "labels.csv").write_text("image,x,y,w,h,plate,region\na.png,0,0,320,90,1234BCD,ES\n", encoding="utf-8")
    config = tmp_path / "sites.yaml"
    config.write_text(
        "flow:\n  plates:\n    presets: [US]\n    sites:\n      madrid: {presets: [ES]}\n"
        "    cameras:\n      gate-3: {presets: [DE]}\n",
        encoding="utf-8",
    )
    runner = CliRunner()

    def region_accuracy(*args: str) -> float:
        result = runner.invoke(eval_, ["crops", str(folder), "--json", "-c", str(config), *args])
        assert result.exit_code == 0, result.output
        return json.loads(result.output.splitlines()[-1])["region_accuracy"]

    assert region_accuracy("--site", "madrid") == 1.0  # ES formats: the read is Spanish
    assert region_accuracy() == 0.0  # the global presets (US): a US string, region US
    assert region_accuracy("--site", "madrid", "--camera", "gate-3") == 0.0  # the camera's DE wins
    both = runner.invoke(eval_, ["crops", str(folder), "-c", str(config), "--site", "madrid", "--formats", "ES"])
    assert both.exit_code != 0 and "not both" in both.output


def test_out_counts_what_the_crops_showed_of_a_european_band(tmp_path: Path):
    # 1234BCD is a Spanish series and (with far less weight) a US one: the crop is looked at. The
    # first is drawn with a band, the second in grey (nothing to judge by).
    folder = tmp_path / "band"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), drawn_plate())
    cv2.imwrite(
        str(folder / "b.png"), cv2.cvtColor(cv2.cvtColor(drawn_plate(), cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    )
    (folder / "labels.csv").write_text(
        "image,x,y,w,h,plate\na.png,0,0,338,72,1234BCD\nb.png,0,0,338,72,1234BCD\n", encoding="utf-8"
    )
    out = tmp_path / "pred.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "alpr.cli", "eval", "crops", str(folder), "--json", "--out", str(out)],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    looked = [r for r in rows if r["read"] == "1234BCD"]
    assert looked, rows  # the drawn plates read as drawn
    assert sum(summary["bands"].values()) == len(looked)
    assert summary["bands"].get("present", 0) == ("a.png" in {Path(r["image"]).name for r in looked})
