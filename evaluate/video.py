"""``alpr eval video``: the whole product (edge + flow on real services) on one clip, scored.

The clip runs as a camera of its own (a fresh id per run, so events of earlier runs never
count) through :func:`alpr.pipeline_run.run_pipeline`; the plates of the events it stored are
compared with the expected plates, keyed as :func:`evaluate.metrics.plate_key` does (upper-case,
A-Z and 0-9 only). An expected plate is found when an event's plate equals it exactly; more than
one event for it is a duplicate (one vehicle pass reported several times); an event whose plate
is no expected plate is an extra (a misread, or a plate not listed). For each missed plate the
closest event plate is reported as a near miss, with its char accuracy.
"""

from __future__ import annotations

import secrets
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from config.settings import Settings
from evaluate.metrics import char_accuracy, plate_key


@dataclass(frozen=True, slots=True)
class NearMiss:
    """The event plate closest to a missed expected plate."""

    expected: str
    read: str
    char_accuracy: float


@dataclass(frozen=True, slots=True)
class VideoScore:
    """Expected plates against the plates of the stored events of one run."""

    expected: tuple[str, ...]
    found: tuple[str, ...]
    missed: tuple[str, ...]
    extra: tuple[str, ...]
    events: int
    events_per_plate: dict[str, int]
    near_misses: tuple[NearMiss, ...]

    @property
    def duplicates(self) -> dict[str, int]:
        """Expected plates reported by more than one event, with their event counts."""
        return {p: n for p, n in self.events_per_plate.items() if n > 1}

    @property
    def exact_recall(self) -> float:
        """Share of expected plates found exactly (1.0 when nothing was expected)."""
        return len(self.found) / len(self.expected) if self.expected else 1.0

    @property
    def char_accuracy(self) -> float:
        """Mean over expected plates of the best char accuracy of any event plate (0 without events)."""
        if not self.expected:
            return 1.0
        near = {m.expected: m.char_accuracy for m in self.near_misses}
        return sum(1.0 if p in self.found else near.get(p, 0.0) for p in self.expected) / len(self.expected)


def score_plates(expected: Sequence[str], read: Sequence[str]) -> VideoScore:
    """Score the plates of stored events (``read``, one per event) against ``expected``."""
    wanted = tuple(dict.fromkeys(k for k in (plate_key(p) for p in expected) if k))
    counts = Counter(k for k in (plate_key(p) for p in read) if k)
    found = tuple(p for p in wanted if counts[p])
    missed = tuple(p for p in wanted if not counts[p])
    near = []
    for p in missed:
        if counts:
            accuracy, best = max((char_accuracy(r, p), r) for r in sorted(counts, reverse=True))
            near.append(NearMiss(p, best, round(accuracy, 4)))
    return VideoScore(
        expected=wanted,
        found=found,
        missed=missed,
        extra=tuple(sorted(p for p in counts if p not in wanted)),
        events=sum(counts.values()),
        events_per_plate={p: counts[p] for p in wanted},
        near_misses=tuple(near),
    )


def camera_config(clip: Path, camera_id: str, folder: Path) -> Path:
    """Write a cameras YAML running ``clip`` once, as fast as the edge can, as ``camera_id``."""
    path = folder / f"{camera_id}.yaml"
    config = {
        "edge": {
            "cameras": [{"id": camera_id, "url": str(clip.resolve()), "loop": False}],
            # A private outbox: nothing left by other runs is replayed into this one.
            "spool": {"dir": str(folder / "spool")},
        }
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def new_camera_id(clip: Path) -> str:
    """A camera id no earlier run used: ``eval-<clip stem>-<random hex>``."""
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in clip.stem)[:40]
    return f"eval-{stem}-{secrets.token_hex(4)}"


def evaluate_video(
    clip: Path,
    expected: Sequence[str],
    settings: Settings,
    *,
    config_paths: Sequence[Path] = (),
    start_services: bool = True,
    wait_s: float = 90.0,
    echo: Callable[[str], None] | None = None,
) -> dict[str, object]:
    """Run edge + flow on ``clip`` and score the stored events; the report as plain values.

    With ``start_services`` the local stack is brought up and migrated first (as ``alpr demo``
    does); otherwise ``settings`` must name running services and a migrated database.
    ``config_paths`` are settings files for the edge (under the clip's camera) and the flow.
    """
    from alpr.pipeline_run import echo_stderr, run_pipeline, start_local_stack

    say = echo or echo_stderr
    if start_services:  # children print to stderr (fd 2): stdout is for the report
        settings = start_local_stack(settings, say, child_stdout=2)
    camera = new_camera_id(clip)
    with tempfile.TemporaryDirectory(prefix="alpr-eval-video-") as tmp:
        cameras = camera_config(clip, camera, Path(tmp))
        run = run_pipeline(
            settings,
            [*config_paths, cameras],
            wait_s=wait_s,
            flow_configs=config_paths,
            metrics=False,
            log_name="eval-video-flow.log",
            echo=say,
            child_stdout=2,
        )
    score = score_plates(expected, [e.plate for e in run.events])
    return {
        "clip": str(clip),
        "camera": camera,
        "expected": list(score.expected),
        "found": list(score.found),
        "missed": list(score.missed),
        "extra": list(score.extra),
        "events": score.events,
        "events_per_plate": score.events_per_plate,
        "duplicates": score.duplicates,
        "near_misses": [
            {"expected": m.expected, "read": m.read, "char_accuracy": m.char_accuracy} for m in score.near_misses
        ],
        "exact_recall": round(score.exact_recall, 4),
        "char_accuracy": round(score.char_accuracy, 4),
        "rejected_reads": run.rejected,
        "reads": [
            {
                "plate": e.plate,
                "raw": e.plate_raw,
                "region": e.region,
                "confidence": e.confidence,
                "sightings": e.sightings,
                "vehicle_type": e.vehicle_type,
                "vehicle_colour": e.vehicle_colour,
                "first_seen": e.first_seen.isoformat(),
            }
            for e in run.events
        ],
        "seconds": round(run.seconds, 1),
    }
