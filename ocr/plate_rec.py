"""The project's own plate recogniser on ONNX Runtime (engine type ``plate_rec``).

A compact CRNN (conv stack + BiLSTM, CTC) trained by ``training/`` on real plate crops and
synthetic plates; see ``docs/recogniser.md``. The model contract, stored in the ONNX metadata:

- input ``(n, 3, input_height, input_width)`` float32 BGR in [-1, 1] (one text line, resized
  keeping its aspect up to ``input_width`` and padded on the right with 0);
- output ``(n, T, C)`` per-frame class probabilities: class 0 = CTC blank, then the
  ``character`` metadata, one per line. The masked symbol ``?`` (privacy-greyed characters in
  the training data) is a class too; it is never part of a read.

:func:`plate_lines`, :func:`fit_line` and :func:`to_tensor` are the whole preprocessing; training
imports them, so a crop is prepared the same way at training and at inference time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from config.ocr import OcrSettings
from ocr.base import OcrError, OcrResult
from ocr.lattice import ColumnMap, Lattice
from ocr.preprocess import as_bgr, pad, row_layouts, strip_side_band
from ocr.sessions import open_session

log = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "plate_rec.onnx"
CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ?"
MASKED = "?"
SPLIT_MARGIN = 0.05  # a two-row reading must be this much more confident than the one-line one
_LAYOUTS = ("band", "split")  # the layouts of plate_lines, in order


@dataclass(frozen=True, slots=True)
class InputSpec:
    """Model input size: a line is resized to ``height`` and fit into ``width`` pixels."""

    height: int
    width: int

    def __post_init__(self) -> None:
        if self.height < 8 or self.width < self.height:
            raise ValueError(f"InputSpec: need height >= 8 and width >= height, got {self.height}x{self.width}")


def plate_lines(image: np.ndarray, strip_band: bool = True, padding: float = 0.0,
                rows: str = "auto") -> list[list[np.ndarray]]:  # fmt: skip
    """Ways to read one crop: a list of layouts, each a list of text-line images (BGR uint8).

    The first layout is the plate's main text band as one line; a second layout, when the band
    shows two text rows, holds the rows top to bottom. ``rows="single"`` reads the whole crop as
    one line instead; every other value (``auto``, and ``detect``/``both``, which are for engines
    with a text detector) means the projection-based layout this model was trained on. An
    unreadable crop gives ``[]``.
    """
    bgr = as_bgr(image)
    if bgr is None:
        return []
    if strip_band:
        bgr = strip_side_band(bgr)
    bgr = pad(bgr, padding)
    layouts = [[(0, bgr.shape[0])]] if rows == "single" else row_layouts(bgr)
    return [[bgr[top:bottom] for top, bottom in layout if bottom - top >= 2] for layout in layouts]


def fit_line(line: np.ndarray, spec: InputSpec) -> np.ndarray:
    """A BGR uint8 line resized to ``spec.height`` keeping its aspect, at most ``spec.width`` wide
    (wider lines are squeezed): uint8 ``(spec.height, width, 3)``."""
    h, w = line.shape[:2]
    width = int(min(spec.width, max(1, round(spec.height * w / h))))
    interpolation = cv2.INTER_LINEAR if h < spec.height else cv2.INTER_AREA
    return cv2.resize(line, (width, spec.height), interpolation=interpolation)


def to_tensor(fitted: np.ndarray, spec: InputSpec) -> np.ndarray:
    """A :func:`fit_line` output as the model input ``(3, spec.height, spec.width)`` float32:
    scaled to [-1, 1] and padded on the right with 0."""
    out = np.zeros((3, spec.height, spec.width), dtype=np.float32)
    out[:, :, : fitted.shape[1]] = fitted.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0
    return out


def line_tensor(line: np.ndarray, spec: InputSpec) -> np.ndarray:
    """A BGR uint8 line ``(h, w, 3)`` as the model input ``(3, spec.height, spec.width)`` float32."""
    return to_tensor(fit_line(line, spec), spec)


def greedy_decode(probs: np.ndarray, charset: str) -> tuple[str, list[float]]:
    """Greedy CTC of one ``(T, 1 + len(charset))`` probability matrix.

    Returns the text without masked symbols and the confidence of each character (the highest
    probability over the frames of its run).
    """
    best = probs.argmax(axis=1)
    score = probs.max(axis=1)
    chars: list[str] = []
    confs: list[float] = []
    prev = 0
    for cls, p in zip(best.tolist(), score.tolist(), strict=True):
        if cls != 0 and cls != prev:
            chars.append(charset[cls - 1])
            confs.append(p)
        elif cls != 0 and cls == prev:
            confs[-1] = max(confs[-1], p)
        prev = cls
    kept = [(c, p) for c, p in zip(chars, confs, strict=True) if c != MASKED]
    return "".join(c for c, _ in kept), [min(1.0, max(0.0, p)) for _, p in kept]


class PlateRecogniser:
    """Batched reads of plate crops with the ``plate_rec`` ONNX model (see the module docstring)."""

    def __init__(self, session, charset: str, spec: InputSpec, settings: OcrSettings) -> None:
        self._session = session
        self._input = session.get_inputs()[0].name
        self._charset = charset
        self._spec = spec
        self._settings = settings
        allowed = set(settings.alphabet.upper())
        self._mask = np.array([True] + [c in allowed or c == MASKED for c in charset])
        self._columns = ColumnMap(["", *charset])

    def read(self, images: Sequence[np.ndarray]) -> list[OcrResult]:
        """One result per crop; two-row plates are read row by row, rows joined by a space."""
        s = self._settings
        lines: list[np.ndarray] = []
        owner: list[tuple[int, int]] = []  # (crop index, layout index) of each line
        for index, image in enumerate(images):
            layouts = plate_lines(image, s.strip_side_band, s.padding, s.rows)
            if not layouts:
                log.debug("plate_rec: crop %d is not a readable image", index)
            for layout_index, layout in enumerate(layouts):
                for line in layout:
                    lines.append(line_tensor(line, self._spec))
                    owner.append((index, layout_index))
        reads, frames = self._recognise(lines)
        per_crop: list[dict[int, list[tuple[str, list[float]]]]] = [{} for _ in images]
        seen: list[dict[int, list[np.ndarray]]] = [{} for _ in images]
        for (index, layout_index), read, lattice in zip(owner, reads, frames, strict=True):
            per_crop[index].setdefault(layout_index, []).append(read)
            seen[index].setdefault(layout_index, []).append(lattice)
        results = []
        for options, lattices in zip(per_crop, seen, strict=True):
            keys = sorted(options)
            candidates = [_combine(options[k]) for k in keys]
            best = _pick(candidates)
            if best.confidence < s.min_confidence:
                results.append(OcrResult.empty())
                continue
            chosen = next((k for k, c in zip(keys, candidates, strict=True) if c is best), None)
            found = tuple(Lattice(_LAYOUTS[k], tuple(lattices[k]), chosen=k == chosen) for k in keys)
            results.append(replace(best, lattices=found))
        return results

    def _recognise(self, lines: list[np.ndarray]) -> tuple[list[tuple[str, list[float]]], list[np.ndarray]]:
        """Per line: the greedy read and the lattice log-probabilities of its frames."""
        out: list[tuple[str, list[float]]] = []
        frames: list[np.ndarray] = []
        for start in range(0, len(lines), self._settings.batch_size):
            batch = np.stack(lines[start : start + self._settings.batch_size])
            probs = self._session.run(None, {self._input: batch})[0]
            probs = np.where(self._mask, probs, 0.0)
            out.extend(greedy_decode(p, self._charset) for p in probs)
            frames.extend(self._columns(p) for p in probs)
        return out, frames


def _combine(parts: list[tuple[str, list[float]]]) -> OcrResult:
    text = " ".join(t for t, _ in parts if t)
    confs = [c for _, cs in parts for c in cs]
    if not confs:
        return OcrResult.empty()
    return OcrResult(text, float(np.mean(confs)), tuple(confs))


def _pick(candidates: list[OcrResult]) -> OcrResult:
    """The one-line reading unless the two-row reading is clearly more confident."""
    if not candidates:
        return OcrResult.empty()
    if len(candidates) > 1 and candidates[1].confidence > candidates[0].confidence + SPLIT_MARGIN:
        return candidates[1]
    return candidates[0]


def model_contract(session) -> tuple[str, InputSpec]:
    """The charset and input size stored in a ``plate_rec`` model; :class:`OcrError` when absent."""
    meta = session.get_modelmeta().custom_metadata_map
    try:
        charset = meta["character"].replace("\n", "")
        spec = InputSpec(int(meta["input_height"]), int(meta["input_width"]))
    except (KeyError, ValueError) as exc:
        raise OcrError(f"ocr.model_path: not a plate_rec model (metadata {sorted(meta)}): {exc}") from exc
    n_out = session.get_outputs()[0].shape[-1]
    if isinstance(n_out, int) and n_out != len(charset) + 1:
        raise OcrError(f"ocr.model_path: {n_out} output classes but the charset gives {len(charset) + 1}")
    return charset, spec


def load_plate_rec(settings: OcrSettings) -> PlateRecogniser:
    """The ``plate_rec`` engine: ``settings.model_path`` or the bundled ``models/plate_rec.onnx``.

    The input size comes from the model; ``input_height`` and the width ratios are not used.
    """
    session = open_session(settings.model_path or DEFAULT_MODEL, settings.threads)
    charset, spec = model_contract(session)
    return PlateRecogniser(session, charset, spec, settings)
