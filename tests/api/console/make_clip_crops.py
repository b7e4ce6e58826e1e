"""Regenerate ``clip_crops/``: the plate crops the edge cuts from ``samples/alizahidraja_70.mp4``.

The browser tests feed these real crops through the real flow (running the detector over the
226 frames of the clip costs ~15 s of CPU, too much for every CI run). Run from the repository
root: ``python -m tests.api.console.make_clip_crops``.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2

from config.edge import CameraSettings
from config.settings import Settings
from edge.camera import Frame
from edge.detect import load_detector
from edge.pipeline import CameraPipeline
from edge.records import PlateCrop

ROOT = Path(__file__).resolve().parents[3]
CLIP = ROOT / "samples" / "alizahidraja_70.mp4"
OUT = Path(__file__).with_name("clip_crops")


def main() -> None:
    """Run the edge's pipeline on the clip; write each crop as JPEG plus its fields in crops.json."""
    capture = cv2.VideoCapture(str(CLIP))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    camera = CameraSettings(id="clip", url=str(CLIP), fps_cap=fps)
    edge = Settings().edge.model_copy(update={"cameras": (camera,)})
    pipeline = CameraPipeline(camera, edge, site="gate", run_id="clip", detector=load_detector(edge.detector))
    records = []
    index = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        records += pipeline.process(Frame("clip", index, index / fps, image))
        index += 1
    records += pipeline.close(index / fps)
    OUT.mkdir(exist_ok=True)
    meta = []
    for n, crop in enumerate(r for r in records if isinstance(r, PlateCrop)):
        name = f"crop-{n}.jpg"
        (OUT / name).write_bytes(crop.image)
        meta.append(
            {
                "file": name,
                "track": crop.track_id,
                "frame_index": crop.frame_index,
                "offset_s": crop.frame_ts.timestamp(),
                "bbox": [crop.bbox.x, crop.bbox.y, crop.bbox.w, crop.bbox.h],
                "frame_size": [crop.frame_width, crop.frame_height],
                "det_confidence": crop.det_confidence,
                "quality": crop.quality,
                "sharpness": crop.sharpness,
            }
        )
    (OUT / "crops.json").write_text(json.dumps({"clip": CLIP.name, "crops": meta}, indent=1) + "\n")
    print(f"{len(meta)} crops from {index} frames -> {OUT}")


if __name__ == "__main__":
    main()
