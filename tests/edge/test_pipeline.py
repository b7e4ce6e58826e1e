"""CameraPipeline: records in publish order, crops per slice, ROI filtering (with a scripted detector)."""

from __future__ import annotations

import numpy as np
import pytest

from config.edge import CameraSettings, CropSettings, EdgeSettings
from edge.camera import Frame
from edge.detect import Detections
from edge.metrics import EdgeMetrics
from edge.pipeline import CameraPipeline, in_polygon
from edge.records import PlateCrop, TrackEvent, TrackEventKind, utc


class ScriptedDetector:
    """Implements the Detector protocol with one plate box per frame moving right (a test double)."""

    def __init__(self, visible: range) -> None:
        self.visible = visible
        self.calls = 0

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        i = self.calls
        self.calls += 1
        if i not in self.visible:
            return Detections.empty()
        x = 200 + 10 * i
        return Detections(
            np.array([[x, 300, x + 90, 330]], np.float32), np.array([0.8], np.float32), np.zeros(1, np.int32)
        )


def _frames(n: int, fps: float = 10.0):
    rng = np.random.default_rng(0)
    image = (rng.random((480, 800, 3)) * 255).astype(np.uint8)
    return [Frame("cam", i, 1_000.0 + i / fps, image) for i in range(n)]


def _run(camera: CameraSettings, detector, n: int = 60) -> list:
    edge = EdgeSettings(cameras=(camera,), crops=CropSettings(per_slice=2, slice_s=1.0))
    pipe = CameraPipeline(
        camera, edge, site="s", run_id="r", detector=detector, metrics=EdgeMetrics(), clock=lambda: 5_000.0
    )
    out = []
    for frame in _frames(n):
        out += pipe.process(frame)
    return out + pipe.close(1_000.0 + n / 10)


def test_start_then_best_crops_per_slice_then_end() -> None:
    out = _run(CameraSettings(id="cam", url="x.mp4", fps_cap=10), ScriptedDetector(range(5, 35)))
    kinds = [r.kind if isinstance(r, TrackEvent) else "crop" for r in out]
    assert kinds[0] == TrackEventKind.START and kinds[-1] == TrackEventKind.END
    assert set(kinds[1:-1]) == {"crop"}
    crops = [r for r in out if isinstance(r, PlateCrop)]
    # 3 s of track: slices 0, 1, 2 (+ the remainder), at most 2 crops each.
    assert 5 <= len(crops) <= 8
    assert out[-1].crops_published == len(crops) and out[-1].frames >= 28
    per_slice: dict[int, int] = {}
    for c in crops:
        per_slice[int((c.frame_ts.timestamp() - out[0].ts) // 1.0)] = (
            per_slice.get(int((c.frame_ts.timestamp() - out[0].ts) // 1.0), 0) + 1
        )
    assert max(per_slice.values()) <= 2
    c = crops[0]
    assert c.crop_id == f"cam:{c.track_id}:{c.frame_index}" and c.image[:2] == b"\xff\xd8"
    assert c.published_ts == utc(5_000.0) and c.bbox.w == 90


def test_roi_excludes_plates_outside_the_polygon() -> None:
    left_half = ((0, 0), (300, 0), (300, 480), (0, 480))
    out = _run(CameraSettings(id="cam", url="x.mp4", fps_cap=10, roi=left_half), ScriptedDetector(range(5, 35)))
    # Box centres are at x = 245 + 10 i: inside the ROI for frames 5 (x=295) only, too short for a track.
    assert out == []
    out_all = _run(
        CameraSettings(id="cam", url="x.mp4", fps_cap=10, roi=((500, 0), (800, 0), (800, 480))),
        ScriptedDetector(range(5, 35)),
    )
    assert all(isinstance(r, TrackEvent) or r.bbox.x >= 400 for r in out_all)


@pytest.mark.parametrize(
    ("point", "inside"),
    [((5, 5), True), ((15, 5), False), ((5, -1), False), ((9.9, 9.9), True), ((-0.1, 5), False)],
)
def test_in_polygon(point, inside) -> None:
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], np.float32)
    assert bool(in_polygon(np.array([point], np.float32), square)[0]) is inside


def test_in_polygon_concave() -> None:
    u_shape = np.array([[0, 0], [30, 0], [30, 30], [20, 30], [20, 10], [10, 10], [10, 30], [0, 30]], np.float32)
    pts = np.array([[5, 20], [15, 20], [25, 20], [15, 5]], np.float32)
    assert in_polygon(pts, u_shape).tolist() == [True, False, True, True]


def test_stage_latencies_and_tracks_reach_the_metrics() -> None:
    camera = CameraSettings(id="cam", url="x.mp4", fps_cap=10)
    metrics = EdgeMetrics()
    pipe = CameraPipeline(
        camera,
        EdgeSettings(cameras=(camera,)),
        site="s",
        run_id="r",
        detector=ScriptedDetector(range(2, 40)),
        metrics=metrics,
    )
    for frame in _frames(20):
        pipe.process(frame)
    get = metrics.registry.get_sample_value
    assert get("alpr_edge_stage_duration_seconds_count", {"camera": "cam", "stage": "detect"}) == 20
    assert get("alpr_edge_stage_duration_seconds_count", {"camera": "cam", "stage": "track"}) == 20
    assert get("alpr_edge_tracks_active", {"camera": "cam"}) == 1


@pytest.mark.parametrize(("band", "seen"), [((200, 60, 20), "present"), (None, "absent")])
def test_each_crop_says_what_it_shows_of_a_european_band(band, seen) -> None:
    """The flow's country cue is looked for before JPEG, on the padded crop it publishes."""
    from tests.operators.builders import drawn_plate

    plate = drawn_plate(band=band, around=(50, 50, 160))  # 260 x 56 with 15% of it around, on a red car
    frame = np.full((480, 800, 3), (50, 50, 160), np.uint8)
    frame[100 : 100 + plate.shape[0], 100 : 100 + plate.shape[1]] = plate
    px, py = round(260 * 0.15), round(56 * 0.15)
    box = np.array([[100 + px, 100 + py, 100 + px + 260, 100 + py + 56]], np.float32)

    class Still:
        def detect(self, frame_bgr: np.ndarray) -> Detections:
            return Detections(box, np.array([0.9], np.float32), np.zeros(1, np.int32))

    camera = CameraSettings(id="cam", url="x.mp4", fps_cap=10)
    pipe = CameraPipeline(camera, EdgeSettings(cameras=(camera,)), site="s", run_id="r", detector=Still())
    out = []
    for i in range(20):
        out += pipe.process(Frame("cam", i, 1_000.0 + i / 10, frame))
    crops = [r for r in out + pipe.close(1_002.0) if isinstance(r, PlateCrop)]
    assert crops and {c.band for c in crops} == {seen}
