"""The shipped ``plate_rec`` model: manifest, ONNX contract, decoding, and accuracy floors on
crops it was never trained on (our us-plates-ocr test split, the official uc3m-ocr test split)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from config.ocr import OcrSettings
from ocr.base import OcrError
from ocr.plate_rec import CHARSET, DEFAULT_MODEL, InputSpec, greedy_decode, line_tensor, plate_lines
from ocr.registry import load_engine
from training.data import uc3m, us_plates
from training.train import matches

MODELS = Path(__file__).resolve().parents[2] / "models"
# Floors a little below the measured accuracy of this engine alone (no format fixes), on the
# first N crops of each test split in file order (see docs/recogniser.md for the full figures).
FLOORS = {"us-plates-ocr": (80, 0.78), "uc3m-ocr": (80, 0.85)}  # measured: 0.8375, 0.900


def test_manifest_entry_matches_the_model_file():
    manifest = json.loads((MODELS / "manifest.json").read_text())
    entry = next(m for m in manifest["models"] if m["name"] == "plate_rec")
    path = MODELS / entry["file"]
    assert path == DEFAULT_MODEL
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
    assert entry["input"]["charset"] == CHARSET
    assert entry["licence"] and entry["training_data"]


def test_model_contract_and_bad_input(plate_rec):
    spec = plate_rec._spec
    assert spec == InputSpec(32, 160)
    reads = plate_rec.read([np.zeros((2, 2, 3), np.uint8), np.zeros((40, 80), np.float32), "not an image"])
    assert [r.text for r in reads] == ["", "", ""]
    assert plate_rec.read([]) == []


def test_a_model_without_plate_rec_metadata_is_refused(tmp_path):
    with pytest.raises(OcrError, match="model_path"):
        load_engine(OcrSettings(type="plate_rec", model_path=tmp_path / "missing.onnx"))


def test_greedy_decode_collapses_repeats_and_drops_masked():
    classes = 1 + len(CHARSET)
    frames = [1 + CHARSET.index(c) if c != "_" else 0 for c in "AA_A?_1__1"]
    probs = np.full((len(frames), classes), 0.01, np.float32)
    probs[np.arange(len(frames)), frames] = 0.9
    text, confs = greedy_decode(probs, CHARSET)
    assert text == "AA11" and len(confs) == 4 and all(abs(c - 0.9) < 1e-6 for c in confs)


def test_line_tensor_pads_right_with_zero():
    line = np.full((20, 30, 3), 255, np.uint8)
    t = line_tensor(line, InputSpec(32, 160))
    assert t.shape == (3, 32, 160) and t.dtype == np.float32
    assert np.allclose(t[:, :, :48], 1.0) and np.allclose(t[:, :, 48:], 0.0)


def _accuracy(engine, crops) -> float:
    images = [cv2.imread(str(c.path)) for c in crops]
    reads = engine.read(images)
    return sum(matches("".join(ch for ch in r.text if ch.isalnum()), c.plate) for r, c in
               zip(reads, crops, strict=True)) / len(crops)  # fmt: skip


@pytest.mark.parametrize("source", sorted(FLOORS))
def test_reads_unseen_test_crops_above_the_floor(plate_rec, data_dir, source):
    count, floor = FLOORS[source]
    crops = [c for c in (us_plates(data_dir) if source == "us-plates-ocr" else uc3m(data_dir)) if c.split == "test"]
    accuracy = _accuracy(plate_rec, crops[:count])
    assert accuracy >= floor, f"{source}: {accuracy:.3f} < floor {floor}"


def test_lines_fed_to_the_model_come_from_the_shared_preprocessing(data_dir):
    crop = next(c for c in us_plates(data_dir) if c.split == "test")
    layouts = plate_lines(cv2.imread(str(crop.path)))
    assert layouts and layouts[0] and layouts[0][0].ndim == 3
