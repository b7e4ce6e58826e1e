"""`alpr eval video`: scoring of stored events, and edge + flow on the real services on the sample clip."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from evaluate.cli import eval_
from evaluate.video import camera_config, new_camera_id, score_plates

REPO = Path(__file__).resolve().parents[2]
CLIP = REPO / "samples" / "alizahidraja_70.mp4"
CLIP_PLATE = "LZW9715"  # the plate of the sample clip reads "LZW 9715"


def test_score_found_missed_extra_duplicates() -> None:
    score = score_plates(["lzw-9715", "ABC 123", "Q1"], ["LZW9715", "LZW9715", "ABC128", "zz 9"])
    assert score.expected == ("LZW9715", "ABC123", "Q1")
    assert score.found == ("LZW9715",)
    assert score.missed == ("ABC123", "Q1")
    assert score.extra == ("ABC128", "ZZ9")
    assert score.events == 4
    assert score.events_per_plate == {"LZW9715": 2, "ABC123": 0, "Q1": 0}
    assert score.duplicates == {"LZW9715": 2}
    assert score.exact_recall == pytest.approx(1 / 3)
    near = {m.expected: (m.read, m.char_accuracy) for m in score.near_misses}
    assert near["ABC123"] == ("ABC128", pytest.approx(5 / 6, abs=1e-4))
    assert near["Q1"][1] < 0.5
    assert score.char_accuracy == pytest.approx((1 + 5 / 6 + near["Q1"][1]) / 3, abs=1e-4)


def test_score_without_events_misses_everything() -> None:
    score = score_plates(["LZW9715"], [])
    assert (score.found, score.missed, score.extra, score.events) == ((), ("LZW9715",), (), 0)
    assert score.near_misses == ()
    assert score.exact_recall == 0.0
    assert score.char_accuracy == 0.0
    assert score.duplicates == {}


def test_camera_config_is_a_fresh_camera_with_a_private_spool(tmp_path: Path) -> None:
    from config.load import DEFAULT_CONFIG, load_settings

    first, second = new_camera_id(CLIP), new_camera_id(CLIP)
    assert first != second and first.startswith("eval-alizahidraja_70-")
    path = camera_config(CLIP, first, tmp_path)
    edge = load_settings(DEFAULT_CONFIG, path).edge
    assert [(c.id, c.url, c.loop) for c in edge.cameras] == [(first, str(CLIP), False)]
    assert Path(edge.spool.dir) == tmp_path / "spool"
    assert yaml.safe_load(path.read_text())["edge"]["cameras"][0]["id"] == first


def test_cli_rejects_an_empty_expect() -> None:
    result = CliRunner().invoke(eval_, ["video", str(CLIP), "--expect", " , ", "--no-services"])
    assert result.exit_code == 2
    assert "name at least one plate" in result.output


@pytest.mark.integration
def test_sample_clip_finds_its_plate_once(settings, tmp_path: Path) -> None:
    """The real edge and flow on the stack of the test session: the clip's one plate, one event."""
    from alpr.pipeline_run import child_env

    if not CLIP.is_file():
        pytest.skip(f"{CLIP} is absent")
    env = child_env(settings, metrics=False)
    env["ALPR_SERVICES__RUN_DIR"] = str(tmp_path)
    args = ["video", str(CLIP), "--expect", f"{CLIP_PLATE},ABC123", "--no-services", "--json", "--wait", "60"]
    # A process of its own, so that anything a child prints to stdout would spoil the JSON.
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "alpr.cli", "eval", *args], env=env, cwd=REPO, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["expected"] == [CLIP_PLATE, "ABC123"]
    assert report["found"] == [CLIP_PLATE]
    assert report["missed"] == ["ABC123"]
    assert report["exact_recall"] == 0.5
    assert report["events_per_plate"][CLIP_PLATE] == 1, report["reads"]
    assert report["duplicates"] == {}
    assert report["extra"] == [], report["reads"]
    assert report["events"] == len(report["reads"]) == 1
    read = report["reads"][0]
    assert (read["vehicle_type"], read["vehicle_colour"]) == ("car", "white"), read
    assert report["camera"].startswith("eval-alizahidraja_70-")
    assert report["near_misses"][0]["expected"] == "ABC123"
    assert 0 < report["seconds"] < 120
    assert (tmp_path / "logs" / "eval-video-flow.log").is_file()
