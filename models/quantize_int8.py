"""Build models/plate_yolov8n_safelicensing_int8.onnx from the float model (run once, by hand).

Needs ``onnx`` and ``onnxruntime`` (not project dependencies), e.g. in a throwaway venv:
``python models/quantize_int8.py``. Static QDQ quantisation (weights int8 per channel in 7 bits,
activations uint8, MinMax calibration) on every 4th frame of samples/alizahidraja_70.mp4
(Apache-2.0; no evaluation image is used). The detection head (``/model.22/`` DFL, concat,
split, sigmoid, arithmetic) stays in float: quantising it costs box accuracy.

``reduce_range``: on x86 CPUs without VNNI (AVX2 only, AVX-512 without VNNI) ONNX Runtime multiplies
uint8 activations by int8 weights with instructions that add pairs of products into 16 bits and
saturate; 8-bit weights then give other boxes there than on VNNI CPUs (openalpr-us recall 0.932 vs
0.946). Weights in 7 bits cannot saturate, so every CPU computes the same boxes (recall 0.950).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge.detect import letterbox  # noqa: E402

SRC = REPO / "models" / "plate_yolov8n_safelicensing.onnx"
DST = REPO / "models" / "plate_yolov8n_safelicensing_int8.onnx"
HEAD_OPS = {"Concat", "Split", "Sigmoid", "Mul", "Add", "Sub", "Div", "Softmax", "Reshape", "Transpose"}


class ClipFrames(CalibrationDataReader):
    """Letterboxed (512, rect) frames of the sample clip."""

    def __init__(self) -> None:
        cap = cv2.VideoCapture(str(REPO / "samples" / "alizahidraja_70.mp4"))
        frames = []
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if i % 4 == 0:
                frames.append(frame)
            i += 1
        self._it = iter(frames)

    def get_next(self) -> dict | None:
        frame = next(self._it, None)
        return None if frame is None else {"images": letterbox(frame, 512, True)[0]}


def main() -> None:
    pre = DST.with_suffix(".pre.onnx")
    quant_pre_process(str(SRC), str(pre), skip_symbolic_shape=True)
    model = onnx.load(str(pre))
    head = [
        n.name
        for n in model.graph.node
        if n.name.startswith("/model.22/") and ("dfl" in n.name or n.op_type in HEAD_OPS)
    ]
    quantize_static(
        str(pre),
        str(DST),
        ClipFrames(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=head,
        calibrate_method=CalibrationMethod.MinMax,
        reduce_range=True,
    )
    pre.unlink()
    print(f"wrote {DST}")


if __name__ == "__main__":
    main()
