"""Edge benchmark: frames/s per CPU core at 720p and 1080p, per stage, against the raw decode rate.

    python bench/edge.py [--quick] [--json] [--input-size 640] [--recall]
                         [--ultralytics PYTHON WEIGHTS]

Everything runs on one core (ONNX Runtime, OpenCV and the FFmpeg decoder limited to one thread),
and is timed in CPU seconds of the process (``time.process_time``), so ``fps_per_core`` is what one
core sustains, even on a busy shared box; multiply by the cores given to the edge. The sample
clip (samples/alizahidraja_70.mp4, 1080p) is re-encoded once to 720p and 1080p mp4v files in a
temporary folder, then each stage is timed on its frames:

- ``decode``: reading frames only (the ceiling; ``ratio_vs_decode`` = edge fps / decode fps);
- ``detect``: letterbox + ONNX plate detector + NMS;
- ``track``: ByteTrack + crop scoring/selection + JPEG of the released crops;
- ``edge``: all of it per frame, as ``alpr edge`` runs it, without the vehicle stage;
- ``edge_vehicles``: the same with the vehicle stage at its default settings (YOLOX-Nano every
  ``edge.vehicles.interval_s``, boxes carried between), frames spaced as a camera at the default
  ``fps_cap`` delivers them (``fps_per_core_720p_vehicles``; ``vehicles_ratio_720p`` = with / without);
  the look for plates inside vehicles with none (``edge.vehicles.plate_look``, on by default) is
  part of it, and timed once more turned off: ``plate_look_ratio_720p`` = with / without,
  ``plate_looks_720p`` = vehicles looked in.

``--recall`` adds detection recall on ../shared/data/openalpr-us (IoU > 0.4 with the labelled
plate) and ms/frame. ``--ultralytics PY W`` times ``YOLO(W).predict`` of ultralytics on the same
frames in another interpreter (ultralytics needs torch, which the project venv does not carry).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from config.edge import CameraSettings, DetectorSettings, EdgeSettings  # noqa: E402
from edge.camera import Frame  # noqa: E402
from edge.detect import load_detector  # noqa: E402
from edge.metrics import EdgeMetrics  # noqa: E402
from edge.pipeline import CameraPipeline  # noqa: E402

SAMPLE = REPO / "samples" / "alizahidraja_70.mp4"
OPENALPR = REPO / ".." / "shared" / "data" / "openalpr-us"
RESOLUTIONS = {"720p": (1280, 720), "1080p": (1920, 1080)}

_ULTRALYTICS_SCRIPT = """
import sys, time, types, cv2, torch
torch.set_num_threads(1)
cv2.setNumThreads(1)
try:
    import torchvision
    nms = "torchvision"
except Exception as exc:  # e.g. PyPI's torchvision (built against CUDA torch) beside a CPU torch
    # ultralytics only needs torchvision.ops.nms at predict time: use its own TorchNMS, which it
    # documents as matching torchvision's (predict is otherwise run unchanged).
    from ultralytics.utils.nms import TorchNMS
    sys.modules["torchvision"] = types.SimpleNamespace(ops=types.SimpleNamespace(nms=TorchNMS.nms))
    nms = "ultralytics TorchNMS (torchvision unusable: " + str(exc).splitlines()[0][:80] + ")"
from ultralytics import YOLO
video, weights, size, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
model = YOLO(weights)
cap = cv2.VideoCapture(video)
frames = [cap.read()[1] for _ in range(n)]
try:
    model.predict(frames[0], imgsz=size, verbose=False, device="cpu")
    mode = "predict"
    t = time.process_time()
    for f in frames:
        model.predict(f, imgsz=size, verbose=False, device="cpu")
except RuntimeError as exc:  # e.g. torchvision built for another torch: time the network alone
    print(f"predict unavailable ({exc}); timing the torch forward pass only", file=sys.stderr)
    mode = "torch-forward-only (lower bound of predict)"
    net = YOLO(weights).model.eval().float().fuse()
    h, w = frames[0].shape[:2]
    s = size / max(h, w)
    x = torch.rand(1, 3, -(-round(h * s) // 32) * 32, -(-round(w * s) // 32) * 32)
    with torch.inference_mode():
        net(x)
        t = time.process_time()
        for _ in frames:
            net(x)
print(mode)
print(nms)
print((time.process_time() - t) / len(frames))
"""


def make_clip(src: Path, dst: Path, size: tuple[int, int], frames: int, start: int = 0) -> None:
    """Re-encode ``frames`` frames of ``src`` from frame ``start`` at ``size`` (mp4v, 30 fps, looping)."""
    cap = cv2.VideoCapture(str(src))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    out = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, size)
    for _ in range(frames):
        ok, img = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, img = cap.read()
        out.write(cv2.resize(img, size, interpolation=cv2.INTER_AREA) if img.shape[1::-1] != size else img)
    out.release()
    cap.release()


def open_one_thread(path: Path) -> cv2.VideoCapture:
    """A capture whose FFmpeg decoder uses one thread."""
    return cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])


def time_decode(path: Path) -> tuple[float, list[np.ndarray]]:
    """Seconds per decoded frame, and the frames."""
    cap = open_one_thread(path)
    frames = []
    t = time.process_time()
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    elapsed = time.process_time() - t
    cap.release()
    return elapsed / max(len(frames), 1), frames


def time_pipeline(pipe: CameraPipeline, path: Path, gap: float) -> float:
    """CPU seconds per frame of decoding ``path`` and running ``pipe`` on it, frames ``gap`` s apart."""
    cap = open_one_thread(path)
    n = 0
    t = time.process_time()
    while True:
        ok, img = cap.read()
        if not ok:
            break
        pipe.process(Frame("bench", n, n * gap, img))
        n += 1
    pipe.close(n * gap)
    seconds = (time.process_time() - t) / max(n, 1)
    cap.release()
    return seconds


def time_stages(path: Path, frames: list[np.ndarray], detector_settings: DetectorSettings) -> dict[str, float]:
    """Seconds per frame of detect, track(+crops) and the whole edge (decode + detect + track + crops)."""
    detector = load_detector(detector_settings)
    detector.detect(frames[0])  # warm-up (allocations, graph optimisation)
    camera = CameraSettings(id="bench", url=str(path), fps_cap=30)
    edge = EdgeSettings(cameras=(camera,), detector=detector_settings)

    t = time.process_time()
    dets = [detector.detect(f) for f in frames]
    detect = (time.process_time() - t) / len(frames)

    class Replay:
        """Gives back the detections computed above, to time tracking + crops alone."""

        def __init__(self) -> None:
            self.i = 0

        def detect(self, _frame: np.ndarray):
            self.i += 1
            return dets[self.i - 1]

    pipe = CameraPipeline(camera, edge, site="bench", run_id="b", detector=Replay())
    t = time.process_time()
    for i, f in enumerate(frames):
        pipe.process(Frame("bench", i, i / 30.0, f))
    pipe.close(len(frames) / 30.0)
    track = (time.process_time() - t) / len(frames)

    pipe = CameraPipeline(camera, edge, site="bench", run_id="e", detector=detector)
    whole = time_pipeline(pipe, path, 1 / 30.0)
    # With the vehicle stage at its defaults, frames spaced as a camera at the default fps_cap gives them.
    vehicles = edge.vehicles
    vehicle_detector = load_detector(
        vehicles.detector.model_copy(update={"threads": 1, "providers": ("CPUExecutionProvider",)})
    )
    vehicle_detector.detect(frames[0])  # warm-up
    gap = 1.0 / CameraSettings.model_fields["fps_cap"].default
    metrics = EdgeMetrics()
    pipe = CameraPipeline(
        camera, edge, site="bench", run_id="v", detector=detector, vehicle_detector=vehicle_detector, metrics=metrics
    )
    with_vehicles = time_pipeline(pipe, path, gap)
    tracks = pipe.stats.tracks_started
    looks = sum(
        metrics.registry.get_sample_value("alpr_edge_plate_looks_total", {"camera": "bench", "result": r}) or 0.0
        for r in ("found", "empty")
    )
    # The same without the look for plates inside vehicles (edge/plate_look.py): what it costs.
    look_off = edge.vehicles.plate_look.model_copy(update={"enabled": False})
    no_look = edge.vehicles.model_copy(update={"plate_look": look_off})
    edge_no_look = edge.model_copy(update={"vehicles": no_look})
    pipe = CameraPipeline(
        camera, edge_no_look, site="bench", run_id="n", detector=detector, vehicle_detector=vehicle_detector
    )
    without_look = time_pipeline(pipe, path, gap)
    return {
        "detect": detect, "track": track, "edge": whole, "edge_vehicles": with_vehicles,
        "edge_vehicles_no_look": without_look, "tracks": tracks, "plate_looks": looks,
    }  # fmt: skip


def recall(detector_settings: DetectorSettings) -> dict[str, float] | None:
    """Recall (IoU > 0.4) and median ms/frame of the plate detector on openalpr-us, or None without data."""
    labels = OPENALPR / "labels.csv"
    if not labels.is_file():
        return None
    detector = load_detector(detector_settings)
    hits, times = 0, []
    rows = list(csv.DictReader(labels.open()))
    for row in rows:
        img = cv2.imread(str(OPENALPR / row["image"]))
        t = time.process_time()
        d = detector.detect(img)
        times.append(time.process_time() - t)
        x, y, w, h = (float(row[k]) for k in "xywh")
        if len(d):
            b = d.xyxy
            ix = np.clip(np.minimum(b[:, 2], x + w) - np.maximum(b[:, 0], x), 0, None)
            iy = np.clip(np.minimum(b[:, 3], y + h) - np.maximum(b[:, 1], y), 0, None)
            inter = ix * iy
            iou = inter / ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) + w * h - inter)
            hits += bool(iou.max() > 0.4)
    return {
        "recall": hits / len(rows),
        "images": len(rows),
        "ms_per_image_median": 1000 * float(np.median(times)),
    }


def ultralytics_predict(python: str, weights: str, clip: Path, size: int, n: int) -> tuple[str, str, float] | None:
    """(mode, NMS used, seconds per frame) of ultralytics' own predict on one core, in another interpreter.

    Where ``predict`` cannot run at all, the torch forward pass alone is timed (mode says so): a
    lower bound of predict's cost, so a speed-up against it is conservative.
    """
    proc = subprocess.run(
        [python, "-c", _ULTRALYTICS_SCRIPT, str(clip), weights, str(size), str(n)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "OMP_NUM_THREADS": "1", "YOLO_OFFLINE": "1"},
    )
    if proc.returncode != 0:
        print(f"ultralytics run failed: {proc.stderr[-500:]}", file=sys.stderr)
        return None
    mode, nms, seconds = proc.stdout.strip().splitlines()[-3:]
    return mode, nms, float(seconds)


def time_batched(frames: list[np.ndarray], settings: DetectorSettings, cameras: int) -> dict[str, float]:
    """Frames/s when ``cameras`` frames (one per camera) go through ONE inference call, against
    the model-only rate of the same batch (inference on a prepared blob: no letterbox, no NMS).
    Wall clock, since on a GPU the work is not this process's CPU time."""
    from edge.detect import OnnxDetector, letterbox

    detector = load_detector(settings)
    if not isinstance(detector, OnnxDetector):
        raise SystemExit("--cameras needs the onnx detector")
    batches = [[frames[(i + c) % len(frames)] for c in range(cameras)] for i in range(0, len(frames), cameras)]
    detector.detect_batch(batches[0])  # warm-up
    t = time.perf_counter()
    for batch in batches:
        detector.detect_batch(batch)
    batched = len(batches) * cameras / (time.perf_counter() - t)
    size, rect = detector._size, detector._rect  # noqa: SLF001 - the bench mirrors detect_batch's input
    blob = np.concatenate([letterbox(f, size, rect)[0] for f in batches[0]])
    session, name = detector._session, detector._input_name  # noqa: SLF001
    session.run(None, {name: blob})
    t = time.perf_counter()
    for _ in batches:
        session.run(None, {name: blob})
    model_only = len(batches) * cameras / (time.perf_counter() - t)
    return {"batched_fps": batched, "model_only_fps": model_only, "providers": detector.providers}


def main() -> None:
    """Run the benchmark and print a table or one JSON object."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="30 frames per resolution (CI smoke run).")
    ap.add_argument("--json", action="store_true", help="Print one JSON object on stdout.")
    ap.add_argument("--input-size", type=int, default=512, help="Detector input size (longest side).")
    ap.add_argument("--frames", type=int, default=None, help="Frames per resolution (default 150, quick 30).")
    ap.add_argument("--recall", action="store_true", help="Also measure recall on ../shared/data/openalpr-us.")
    ap.add_argument("--ultralytics", nargs=2, metavar=("PYTHON", "WEIGHTS"), help="Compare with ultralytics predict.")
    ap.add_argument(
        "--cameras", type=int, default=0, help="Also time N cameras' 1080p frames batched in one inference call."
    )
    ap.add_argument("--gpu", action="store_true", help="Batched run on CUDA (ONNX Runtime CUDA provider).")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    n = args.frames or (30 if args.quick else 150)
    det = DetectorSettings(input_size=args.input_size, threads=1, providers=("CPUExecutionProvider",))
    result: dict[str, object] = {"frames": n, "input_size": args.input_size, "cores": 1, "stages": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, size in RESOLUTIONS.items():
            clip = Path(tmp) / f"{name}.mp4"
            # The car is visible in frames 60-105: start the short run there so tracking has work.
            make_clip(SAMPLE, clip, size, n, start=55 if n < 120 else 0)
            decode_s, frames = time_decode(clip)
            stages = time_stages(clip, frames, det)
            fps = {k: 1.0 / v for k, v in stages.items() if k not in ("tracks", "plate_looks")}
            fps["decode"] = 1.0 / decode_s
            result["stages"][name] = {k: round(v, 2) for k, v in fps.items()}  # type: ignore[index]
            result[f"fps_per_core_{name}"] = round(fps["edge"], 2)
            result[f"fps_per_core_{name}_vehicles"] = round(fps["edge_vehicles"], 2)
            result[f"vehicles_ratio_{name}"] = round(fps["edge_vehicles"] / fps["edge"], 4)
            result[f"plate_look_ratio_{name}"] = round(fps["edge_vehicles"] / fps["edge_vehicles_no_look"], 4)
            result[f"plate_looks_{name}"] = int(stages["plate_looks"])
            result[f"ratio_vs_decode_{name}"] = round(fps["edge"] / fps["decode"], 4)
            result[f"tracks_{name}"] = stages["tracks"]
            if args.ultralytics:
                ul = ultralytics_predict(*args.ultralytics, clip, args.input_size, min(n, 60))
                if ul:
                    # The keys say what was timed: ultralytics' own predict, or the torch forward pass only.
                    what = "ultralytics_predict" if ul[0] == "predict" else "torch_forward"
                    result["ultralytics_mode"], result["ultralytics_nms"] = ul[0], ul[1]
                    result[f"{what}_fps_{name}"] = round(1 / ul[2], 2)
                    result[f"speedup_vs_{what}_{name}"] = round(fps["edge"] * ul[2], 2)
            if args.cameras and name == "1080p":
                gpu = ("CUDAExecutionProvider", "CPUExecutionProvider")
                batch_det = det.model_copy(update={"providers": gpu, "threads": 0}) if args.gpu else det
                b = time_batched(frames, batch_det, args.cameras)
                result["batched_cameras"] = args.cameras
                result["batched_providers"] = list(b["providers"])
                result["batched_fps_1080p"] = round(b["batched_fps"], 2)
                result["model_only_fps_1080p"] = round(b["model_only_fps"], 2)
                result["batched_ratio_vs_model"] = round(b["batched_fps"] / b["model_only_fps"], 4)
    result["ratio_vs_decode"] = result["ratio_vs_decode_720p"]
    result["vehicle_interval_s"] = EdgeSettings().vehicles.interval_s
    result["fps_cap"] = CameraSettings.model_fields["fps_cap"].default
    if args.recall:
        result["openalpr_us"] = recall(det)
    if args.json:
        print(json.dumps(result))
        return
    for name in RESOLUTIONS:
        stages = result["stages"][name]  # type: ignore[index]
        print(f"{name}: " + "  ".join(f"{k}={v} fps" for k, v in stages.items()))
    print(json.dumps({k: v for k, v in result.items() if k != "stages"}, indent=1))


if __name__ == "__main__":
    main()
