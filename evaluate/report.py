"""Regenerate the accuracy table of ``docs/accuracy.md`` from the labelled data in ``../shared/data``.

    python -m evaluate.report [--data ../shared/data] [--out docs/accuracy.md] [-c config.yaml]

Each row is what the matching ``alpr eval`` command (shown in the table) prints; data sets
that are absent are listed as such. The text around the table (between the markers) is kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from config.load import load_settings
from evaluate.labels import read_labels
from evaluate.metrics import Summary, summarise
from evaluate.pipeline import CropReader, ImageReader, Normaliser, detector_name
from evaluate.run import Progress, eval_crops, eval_images
from ocr.syntax import load_reader

REPO = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


@dataclass(frozen=True, slots=True)
class Case:
    """One evaluated data set: folder, mode, filters and the CLI command that reproduces it."""

    folder: str
    mode: str  # "crops" or "images"
    split: str | None
    skip: frozenset[str]
    what: str
    #: Scored through our us-plates-ocr split file (``training.splits``), not the folder's labels.
    our_split: bool = False

    def command(self) -> str:
        """The `alpr eval` command line giving this row."""
        if self.our_split:
            return (
                f"python -m training.splits /tmp/us-plates-split && alpr eval {self.mode} /tmp/us-plates-split "
                f"--split {self.split} --json"
            )
        parts = ["alpr eval", self.mode, f"../shared/data/{self.folder}"]
        if self.split:
            parts.append(f"--split {self.split}")
        parts += [f"--skip-label {s}" for s in sorted(self.skip)]
        return " ".join([*parts, "--json"])


# ``what`` names the split and what it was used for (docs/accuracy.md, "Splits": none is held out).
CASES = (
    Case(
        "openalpr-us",
        "images",
        None,
        frozenset(),
        "222 US photos, detector + OCR (development set: detector size chosen on it; not held out)",
    ),
    Case(
        "us-plates-ocr",
        "crops",
        None,
        frozenset({"0"}),
        "746 US crops, all splits (5 specimens labelled 0 dropped; plate_rec, inside the ensemble, trained on 508): "
        "a training-set figure",
    ),
    Case(
        "us-plates-ocr",
        "crops",
        "test",
        frozenset(),
        "155 US crops, our test split (never trained on; among the crops rapidocr's line rules were compared on: "
        "not held out)",
        True,
    ),
    Case(
        "uc3m-ocr",
        "crops",
        "test",
        frozenset(),
        "491 Spanish crops, official test split, visible chars (rapidocr's line rules were chosen on it: "
        "a development figure, not held out)",
    ),
)


def run_case(case: Case, data: Path, settings) -> Summary:
    """Evaluate one case with the product's reading path."""
    folder = data / case.folder
    if case.our_split:
        from training.splits import write_us_split

        folder = write_us_split(Path(tempfile.mkdtemp(prefix="alpr-us-split-")), data).parent
    rows = read_labels(folder, split=case.split, skip_plates=case.skip)
    progress = Progress(len(rows), f"{case.folder} {case.mode}")
    if case.mode == "images":
        return summarise(eval_images(rows, ImageReader.from_settings(settings), progress))
    reader = CropReader(load_reader(settings), Normaliser.from_settings(settings))
    return summarise(eval_crops(rows, reader, settings.ocr.batch_size, progress))


def table(results: list[tuple[Case, Summary | None]], settings) -> str:
    """The markdown results block (between the markers)."""
    lines = [
        BEGIN,
        f"Generated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `python -m evaluate.report` on "
        f"{platform.machine()} with {os.cpu_count()} CPU cores "
        f"(OCR threads: {settings.ocr.threads or 'default'}); "
        f"OCR engine `{settings.ocr.type}`, detector `{detector_name(settings)}` at "
        f"{settings.edge.detector.input_size} px, format presets {', '.join(settings.flow.plates.presets)}. "
        "ms are wall-clock per image (images: detection + OCR) or per crop (crops) on a shared machine.",
        "",
        "| data set | what | n | detection recall | exact | char accuracy | ms | command |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for case, s in results:
        if s is None:
            lines.append(f"| {case.folder} | {case.what} | - | - | - | - | - | data absent |")
            continue
        recall = f"{s.detection_recall:.3f}" if case.mode == "images" else "(crops)"
        lines.append(
            f"| {case.folder} | {case.what} | {s.n} | {recall} | {s.exact_accuracy:.3f} | "
            f"{s.char_accuracy:.3f} | {s.ms_per_image:.0f} | `{case.command()}` |"
        )
    lines.append(END)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run every case whose data exists and rewrite the results block of the output file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / ".." / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "accuracy.md")
    parser.add_argument("-c", "--config", action="append", default=[])
    args = parser.parse_args(argv)
    settings = load_settings(*args.config)
    results: list[tuple[Case, Summary | None]] = []
    for case in CASES:
        present = (args.data / case.folder / "labels.csv").is_file()
        results.append((case, run_case(case, args.data, settings) if present else None))
    block = table(results, settings)
    old = args.out.read_text(encoding="utf-8") if args.out.is_file() else f"# Accuracy\n\n{BEGIN}\n{END}\n"
    if BEGIN in old and END in old:
        new = old[: old.index(BEGIN)] + block + old[old.index(END) + len(END) :]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    args.out.write_text(new, encoding="utf-8")
    print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
