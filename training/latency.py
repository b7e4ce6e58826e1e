"""Latency of the shipped ``plate_rec`` model on one CPU core (ONNX Runtime, 1 intra-op thread).

    .venv/bin/python -m training.latency [--model models/plate_rec.onnx] [--crops 100]

Prints one JSON object: ``model_ms`` (one line, batch 1, model only, median of repeats),
``engine_ms_per_crop`` (``PlateRecogniser.read`` of one crop at a time: preprocessing, both
layouts, decoding) and ``engine_batched_ms_per_crop`` (the same crops in batches of 16), over
the first ``--crops`` crops of our us-plates-ocr test split; and ``reader_ms_per_crop`` /
``reader_cpu_ms_per_crop``: the product's default reader path with ``ocr.type`` = ``--type``
(deskewing, the engine, decoding under the default plate formats, ``ocr.syntax``), one crop at a
time, wall-clock and CPU time of this process (the better estimate on a busy machine).

    .venv/bin/python -m training.latency --type ensemble --crops 60
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from config.ocr import OcrSettings
from ocr.plate_rec import DEFAULT_MODEL, load_plate_rec
from training.data import DATA_ROOT, us_plates


def measure(model: Path, n_crops: int, root: Path = DATA_ROOT) -> dict[str, float]:
    """The three figures described in the module docstring."""
    engine = load_plate_rec(OcrSettings(type="plate_rec", model_path=model, threads=1, batch_size=16))
    session, name = engine._session, engine._input  # the same session the engine uses
    spec = engine._spec
    x = np.zeros((1, 3, spec.height, spec.width), np.float32)
    for _ in range(20):
        session.run(None, {name: x})
    runs = []
    for _ in range(200):
        start = time.perf_counter()
        session.run(None, {name: x})
        runs.append((time.perf_counter() - start) * 1000)
    crops = [cv2.imread(str(c.path)) for c in us_plates(root) if c.split == "test"][:n_crops]
    engine.read(crops[:4])
    start = time.perf_counter()
    for crop in crops:
        engine.read([crop])
    single = (time.perf_counter() - start) * 1000 / len(crops)
    start = time.perf_counter()
    engine.read(crops)
    batched = (time.perf_counter() - start) * 1000 / len(crops)
    return {"model_ms": round(statistics.median(runs), 3), "engine_ms_per_crop": round(single, 3),
            "engine_batched_ms_per_crop": round(batched, 3), "crops": len(crops), "threads": 1}  # fmt: skip


def measure_reader(
    engine_type: str, model: Path | None, n_crops: int, root: Path = DATA_ROOT
) -> dict[str, float | str]:
    """Wall and CPU ms per crop of the default reader path (``ocr.syntax.load_reader``), batch 1."""
    from config.settings import Settings
    from ocr.syntax import load_reader

    ocr = OcrSettings(type=engine_type, threads=1, batch_size=1, model_path=model)
    reader = load_reader(Settings(ocr=ocr))
    crops = [cv2.imread(str(c.path)) for c in us_plates(root) if c.split == "test"][:n_crops]
    reader.read(crops[:4])
    wall, cpu = time.perf_counter(), time.process_time()
    for crop in crops:
        reader.read([crop])
    n = len(crops)
    return {
        "reader_ms_per_crop": round((time.perf_counter() - wall) * 1000 / n, 3),
        "reader_cpu_ms_per_crop": round((time.process_time() - cpu) * 1000 / n, 3),
        "type": engine_type,
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m training.latency``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--crops", type=int, default=100)
    parser.add_argument("--type", default="plate_rec", help="ocr.type of the reader path measured")
    parser.add_argument("--data-root", type=Path, default=DATA_ROOT)
    args = parser.parse_args(argv)
    out: dict[str, float | str] = {}
    if args.type == "plate_rec":
        out |= measure(args.model or DEFAULT_MODEL, args.crops, args.data_root)
    model = args.model if args.type != "ensemble" else None
    print(json.dumps(out | measure_reader(args.type, model, args.crops, args.data_root)))


if __name__ == "__main__":
    main()
