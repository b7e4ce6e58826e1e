"""`alpr eval`: accuracy and speed of the product's reading path on labelled data.

``alpr eval images DIR`` runs detector -> crop -> OCR -> normalise on whole images;
``alpr eval crops DIR`` runs OCR -> normalise on labelled plate crops. Progress goes to stderr;
``--json`` prints one JSON object (and nothing else) on stdout.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from evaluate.labels import EvalError, read_labels
from evaluate.metrics import Scored, summarise, vehicle_association
from evaluate.pipeline import detector_name

if TYPE_CHECKING:
    from operators.traffic_mix import Traffic

log = logging.getLogger(__name__)

_config = click.option(
    "-c", "--config", "config_paths", multiple=True, type=click.Path(dir_okay=False),
    help="Settings YAML (repeatable; default $ALPR_CONFIG or config/default.yaml).",
)  # fmt: skip
_json = click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
_out = click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path),
    help="Write per-sample CSV here (read, error class, region, label format) and add the error classes, "
    "per-format counts and region outcomes (right / none / another country) to the report.",
)  # fmt: skip
_limit = click.option("--limit", type=click.IntRange(min=1), help="Evaluate the first N labelled samples only.")
_formats = click.option(
    "--formats",
    help="Plate format presets for decoding and validation, comma-separated (e.g. US,EU), or 'none' "
    "(raw reads); default: flow.plates.presets from the settings.",
)

_site = click.option(
    "--site",
    help="Read as crops of this site: the presets (and default_region) flow.plates.sites names for it "
    "(else the global ones).",
)
_camera = click.option(
    "--camera",
    help="Read as crops of this camera: the presets flow.plates.cameras names for it (it wins over --site).",
)


def _settings(config_paths: tuple[str, ...], formats: str | None, site: str | None = None, camera: str | None = None):
    from config.load import ConfigError, load_settings
    from operators.plate_scopes import scope_of

    try:
        settings = load_settings(*config_paths)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if formats is not None and (site is not None or camera is not None):
        raise click.UsageError("give --formats or --site/--camera, not both")
    if site is not None or camera is not None:  # the scope's presets and region, as the flow picks them per crop
        scope = scope_of(settings.flow.plates, site, camera)
        formats = ",".join(scope.presets)
        plates = settings.flow.plates.model_copy(update={"default_region": scope.default_region})
        settings = settings.model_copy(update={"flow": settings.flow.model_copy(update={"plates": plates})})
    if formats is None:
        return settings, True
    if formats.lower() == "none":  # no format decoding and no fixes: the engine's raw reads
        ocr = settings.ocr.model_copy(update={"syntax": settings.ocr.syntax.model_copy(update={"enabled": False})})
        return settings.model_copy(update={"ocr": ocr}), False
    presets = tuple(p.strip() for p in formats.split(",") if p.strip())
    plates = settings.flow.plates.model_copy(update={"presets": presets})
    flow = settings.flow.model_copy(update={"plates": plates})
    return settings.model_copy(update={"flow": flow}), True


def _report(
    results: list[Scored],
    out: Path | None,
    as_json: bool,
    extra: dict[str, object],
    traffic: Traffic | None = None,
    bands: dict[str, int] | None = None,
) -> None:
    from evaluate.run import write_csv

    summary_ = summarise(results)
    summary = {**summary_.as_dict(), **extra}
    if out is not None:
        write_csv(results, out)
        summary |= summary_.breakdown()  # what the misses are: error classes, per label format
        if traffic is not None:  # what the folder's reads taught of its countries (operators.traffic_mix)
            mix = sorted(traffic.mix().items(), key=lambda kv: -kv[1])
            summary["region_mix"] = {"reads": traffic.reads} | {c: round(v, 4) for c, v in mix[:8]}
        if bands is not None:  # what the plate reads' crops showed of a European band (operators.plate_band)
            summary["bands"] = bands
    if as_json:
        click.echo(json.dumps(summary))
    else:
        for key, value in summary.items():
            click.echo(f"{key:>18}: {value}")


@click.group("eval")
def eval_() -> None:
    """Measure reading accuracy and speed on labelled data (images or crops + labels.csv)."""


@eval_.command("images")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_json
@_out
@_limit
@_formats
@_site
@_camera
@_config
def images(folder: Path, as_json: bool, out: Path | None, limit: int | None, formats: str | None,
           site: str | None, camera: str | None, config_paths: tuple[str, ...]) -> None:  # fmt: skip
    """Detector -> crop -> OCR -> normalise on FOLDER's images, scored against labels.csv.

    Reports n, detection_recall (a detection with IoU > 0.4 to the labelled box),
    exact_accuracy (the product's read of the image equals the label), char_accuracy,
    ms_per_image and, with the vehicle stage on, vehicle_association (share of labelled plates
    the edge ties to a detected vehicle: the plate's centre in the lower part of a vehicle box).
    """
    from evaluate.pipeline import ImageReader
    from evaluate.run import Progress, eval_images
    from ocr.base import OcrError

    settings, fix = _settings(config_paths, formats, site, camera)
    try:
        rows = read_labels(folder)[:limit]
        reader = ImageReader.from_settings(settings, fix_formats=fix)
    except (EvalError, OcrError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    except RuntimeError as exc:  # edge.detect.DetectorError
        raise click.ClickException(f"detector: {exc}") from exc
    results = eval_images(rows, reader, Progress(len(rows), "eval images"))
    extra: dict[str, object] = {"ocr": settings.ocr.type, "detector": detector_name(settings)}
    if settings.edge.vehicles.enabled:
        extra["vehicle_association"] = vehicle_association(results)
    _report(results, out, as_json, extra, reader.traffic, reader.bands)


@eval_.command("crops")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", help="Only rows whose 'split' column has this value (e.g. test).")
@click.option("--skip-label", "skip", multiple=True, help="Drop rows labelled exactly this (repeatable).")
@_json
@_out
@_limit
@_formats
@_site
@_camera
@_config
def crops(folder: Path, split: str | None, skip: tuple[str, ...], as_json: bool, out: Path | None,
          limit: int | None, formats: str | None, site: str | None, camera: str | None,
          config_paths: tuple[str, ...]) -> None:  # fmt: skip
    """OCR -> normalise on FOLDER's labelled regions (the box is the region to read).

    A '?' in a label is a masked character: it matches any one character or none.
    """
    from evaluate.pipeline import CropReader, Normaliser
    from evaluate.run import Progress, eval_crops
    from ocr.base import OcrError
    from ocr.syntax import load_reader

    settings, fix = _settings(config_paths, formats, site, camera)
    try:
        rows = read_labels(folder, split=split, skip_plates=frozenset(skip))[:limit]
        reader = CropReader(load_reader(settings), Normaliser.from_settings(settings, fix))
    except (EvalError, OcrError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    results = eval_crops(rows, reader, settings.ocr.batch_size, Progress(len(rows), "eval crops"))
    extra = {"ocr": settings.ocr.type, "threads": settings.ocr.threads or os.cpu_count()}
    _report(results, out, as_json, extra, reader.traffic, reader.bands)


@eval_.command("fps")
@click.argument("clip", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--expect", required=True, help="Plates in the clip, comma-separated (e.g. LZW9715).")
@click.option(
    "--fps", "rates", default="5,8,10,15,30", show_default=True, help="Frame rates (fps_cap) to run, comma-separated."
)
@_json
@_config
def fps(clip: Path, expect: str, rates: str, as_json: bool, config_paths: tuple[str, ...]) -> None:
    """Edge + flow in-process (no services) on FILE at several fps caps: one correct event each?

    Each rate runs the edge's file reader and pipeline, then all crops go through the plates
    dataflow (best shot, OCR, vote, validate, dedup) with an in-memory registry. A rate is ok when
    its events are exactly the expected plates, once each. For choosing a camera's fps_cap.
    """
    from evaluate.fps import run_rates

    expected = [p.strip() for p in expect.split(",") if p.strip()]
    try:
        fps_caps = [float(r) for r in rates.split(",") if r.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"not a number list: {rates!r}", param_hint="--fps") from exc
    if not expected or not fps_caps or min(fps_caps) <= 0:
        raise click.BadParameter("name at least one plate and one positive rate")
    settings, _ = _settings(config_paths, None)
    runs = run_rates([(clip.stem, clip)], fps_caps, settings, progress=lambda line: click.echo(line, err=True))
    report = [r.as_dict(expected) for r in runs]
    if as_json:
        click.echo(json.dumps({"clip": str(clip), "expected": expected, "runs": report,
                               "ok": all(r["ok"] for r in report)}))  # fmt: skip
        return
    for r in report:
        click.echo(f"{r['fps']:>6g} fps  {'ok ' if r['ok'] else 'BAD'}  events={r['events']}  tracks={r['tracks']}  "
                   f"frames={r['frames']}  cpu={r['cpu_s']}s  vehicles={r['vehicles']}")  # fmt: skip


@eval_.command("video")
@click.argument("clip", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--expect", required=True, help="Plates in the clip, comma-separated (e.g. LZW9715,ABC123).")
@click.option(
    "--wait", "wait_s", default=90.0, show_default=True, type=click.FloatRange(min=1),
    help="Seconds to wait for the flow's events after the edge ends.",
)  # fmt: skip
@click.option(
    "--services/--no-services", "start_services", default=True, show_default=True,
    help="Bring the local stack up and migrate first (`alpr services up`, `alpr db migrate`); "
    "--no-services uses the running services and migrated database the settings name.",
)  # fmt: skip
@_json
@_config
def video(clip: Path, expect: str, wait_s: float, start_services: bool, as_json: bool,
          config_paths: tuple[str, ...]) -> None:  # fmt: skip
    """Edge + flow on the real services on FILE; expected plates found, missed, extra, duplicates.

    FILE runs as a camera of its own (a new id per run, so earlier runs never count). A plate is
    found when a stored event's plate equals it (upper-case, A-Z0-9); more than one event for it
    is a duplicate; events of other plates are extras; near misses give the closest read.
    """
    from alpr.pipeline_run import PipelineError
    from evaluate.video import evaluate_video

    expected = [p.strip() for p in expect.split(",") if p.strip()]
    if not expected:
        raise click.BadParameter("name at least one plate", param_hint="--expect")
    settings, _ = _settings(config_paths, None)
    try:
        report = evaluate_video(
            clip, expected, settings, config_paths=[Path(p) for p in config_paths],
            start_services=start_services, wait_s=wait_s, echo=lambda line: click.echo(line, err=True),
        )  # fmt: skip
    except PipelineError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report))
        return
    for key, value in report.items():
        if key != "reads":
            click.echo(f"{key:>16}: {value}")
    for read in report["reads"]:
        click.echo(f"{'event':>16}: {read['plate']} (raw {read['raw']}, conf {read['confidence']}, "
                   f"{read['sightings']} sighting(s), {read['first_seen']})")  # fmt: skip
