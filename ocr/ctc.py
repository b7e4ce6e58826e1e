"""A PaddleOCR-style CTC text recogniser on ONNX Runtime (engine type ``onnx_ctc``).

Input ``(n, 3, H, W)`` float32 BGR in [-1, 1]; output ``(n, T, C)`` per-frame class
probabilities, class 0 = CTC blank, classes 1..C-2 = the charset, C-1 = space. Decoding is
greedy and restricted to the plate alphabet (other classes are masked out), so a general
recogniser cannot answer with characters no plate has.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from config.ocr import OcrSettings
from ocr.base import OcrError, OcrResult
from ocr.lattice import ColumnMap, Lattice
from ocr.lines import load_line_finder, main_rows
from ocr.preprocess import as_bgr, pad, row_layouts, strip_side_band, to_input
from ocr.sessions import open_session

log = logging.getLogger(__name__)

SEPARATORS = " -"


def read_charset(session, charset_path: Path | None) -> list[str]:
    """The recogniser's characters (without blank and the trailing space class)."""
    if charset_path is not None:
        try:
            text = charset_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise OcrError(f"ocr.charset_path: cannot read {charset_path}: {exc}") from exc
        return text.splitlines()
    meta = session.get_modelmeta().custom_metadata_map
    if "character" not in meta:
        raise OcrError("ocr.charset_path: the model has no 'character' metadata; give a charset file")
    return meta["character"].splitlines()


WIDTH_STEP = 64  # lines wider than the minimum input are padded to a multiple of this many pixels


def padded_width(width: int, minimum: int, step: int = WIDTH_STEP) -> int:
    """The input width a line ``width`` pixels wide is padded to: ``minimum``, or for a wider line
    the next multiple of ``step``; it depends on the line alone.

    >>> padded_width(200, 320), padded_width(321, 320), padded_width(448, 320)
    (320, 384, 448)
    """
    return max(minimum, -(-width // step) * step)


class CtcRecogniser:
    """Batched CTC recognition of plate crops; see the module docstring for the model contract."""

    def __init__(self, session, charset: Sequence[str], settings: OcrSettings, line_finder=None) -> None:
        if settings.rows in ("detect", "both") and line_finder is None:
            raise OcrError(f"ocr.rows={settings.rows} needs a text line detector; none was given")
        self._lines = line_finder
        self._session = session
        self._input = session.get_inputs()[0].name
        self._settings = settings
        classes = ["", *charset, " "]
        n_out = session.get_outputs()[0].shape[-1]
        if isinstance(n_out, int) and n_out != len(classes):
            raise OcrError(
                f"ocr.charset: the model has {n_out} classes but the charset gives {len(classes)} "
                "(blank + characters + space)"
            )
        allowed = set(settings.alphabet.upper()) | set(SEPARATORS)
        self._labels = np.array([c.upper() for c in classes], dtype=object)
        self._mask = np.array([i == 0 or c.upper() in allowed for i, c in enumerate(classes)])
        if self._mask.sum() < 2:
            raise OcrError(f"ocr.alphabet: none of {settings.alphabet!r} is in the model's charset")
        self._keep = np.flatnonzero(self._mask)
        self._columns = ColumnMap([c if m else "" for c, m in zip(self._labels, self._mask, strict=True)])

    def read(self, images: Sequence[np.ndarray]) -> list[OcrResult]:
        """Read each crop. With ``rows="auto"`` a crop is read both as one line and, when it shows
        two text rows, row by row; the more confident reading is kept (rows joined by a space)."""
        lines: list[np.ndarray] = []
        owner: list[tuple[int, str]] = []  # (crop index, layout kind) of each line
        for index, image in enumerate(images):
            bgr = as_bgr(image)
            if bgr is None:
                log.debug("ocr: crop %d is not a readable image", index)
                continue
            if self._settings.strip_side_band:
                bgr = strip_side_band(bgr)
            bgr = pad(bgr, self._settings.padding)
            for kind, layout in self._layouts(bgr):
                for x, y, w, h in layout:
                    lines.append(bgr[y : y + h, x : x + w])
                    owner.append((index, kind))
        reads, frames = self._recognise(lines)
        layouts_read: list[dict[str, list[tuple[str, list[float]]]]] = [{} for _ in images]
        layouts_seen: list[dict[str, list[np.ndarray]]] = [{} for _ in images]
        for (index, kind), read, lattice in zip(owner, reads, frames, strict=True):
            layouts_read[index].setdefault(kind, []).append(read)
            layouts_seen[index].setdefault(kind, []).append(lattice)
        results = []
        for options, seen in zip(layouts_read, layouts_seen, strict=True):
            chosen, best = _pick({kind: self._combine(parts) for kind, parts in options.items()})
            if best.confidence < self._settings.min_confidence:
                results.append(OcrResult.empty())
            else:
                found = tuple(Lattice(k, tuple(v), chosen=k == chosen) for k, v in seen.items())
                results.append(replace(best, lattices=found))
        return results

    def _layouts(self, bgr: np.ndarray) -> list[tuple[str, list[tuple[int, int, int, int]]]]:
        """Ways to cut the crop into lines ``(x, y, w, h)``: ``(kind, lines)`` pairs, where kind is
        ``band`` (main text band, one line), ``split`` (that band as two rows) or ``detect``."""
        h, w = bgr.shape[:2]
        mode = self._settings.rows
        if mode == "single":
            return [("band", [(0, 0, w, h)])]
        layouts = []
        if mode in ("auto", "both"):
            for kind, layout in zip(("band", "split"), row_layouts(bgr), strict=False):
                layouts.append((kind, [(0, top, w, bottom - top) for top, bottom in layout]))
        if mode in ("detect", "both"):
            rows = main_rows(self._lines.boxes(bgr))
            if rows:
                layouts.append(("detect", rows))
        return layouts or [("band", [(0, 0, w, h)])]

    @staticmethod
    def _combine(parts: list[tuple[str, list[float]]]) -> OcrResult:
        text = " ".join(t for t, _ in parts if t)
        confs = [c for _, cs in parts for c in cs]
        if not confs:
            return OcrResult.empty()
        return OcrResult(text, float(np.mean(confs)), tuple(confs))

    def _recognise(self, lines: list[np.ndarray]) -> tuple[list[tuple[str, list[float]]], list[np.ndarray]]:
        """Per line: the greedy read and the lattice log-probabilities of its frames."""
        s = self._settings
        tensors = [to_input(line, s.input_height, s.max_width_ratio) for line in lines]
        out: list[tuple[str, list[float]]] = [("", [])] * len(lines)
        frames: list[np.ndarray] = [np.zeros((0, 0), np.float32)] * len(lines)
        # Lines are padded on the right to a width of their own (at least PaddleOCR's 48x320
        # input, as its recognisers were trained; wider lines to a multiple of WIDTH_STEP), and
        # lines of one width are read together: what a line is padded with never depends on its
        # batch neighbours, so neither does its read (the recogniser's attention sees the padding).
        minimum = round(s.min_width_ratio * s.input_height)
        by_width: dict[int, list[int]] = {}
        for i, tensor in enumerate(tensors):
            by_width.setdefault(padded_width(tensor.shape[2], minimum), []).append(i)
        for width, members in sorted(by_width.items()):
            for start in range(0, len(members), s.batch_size):
                chunk = members[start : start + s.batch_size]
                batch = np.zeros((len(chunk), 3, s.input_height, width), dtype=np.float32)
                for row, i in enumerate(chunk):
                    batch[row, :, :, : tensors[i].shape[2]] = tensors[i]
                probs = self._session.run(None, {self._input: batch})[0]
                for row, i in enumerate(chunk):
                    # Frames of the right padding see nothing: cut them off (8 px of input per frame).
                    used = min(probs.shape[1], -(-tensors[i].shape[2] * probs.shape[1] // width) + 1)
                    out[i] = self._decode(probs[row])
                    frames[i] = self._columns(probs[row, :used])
        return out, frames

    def _decode(self, probs: np.ndarray) -> tuple[str, list[float]]:
        """Greedy CTC over the allowed classes: ``(text, confidence of each non-separator char)``."""
        allowed = probs[:, self._keep]
        best = self._keep[allowed.argmax(axis=1)]
        score = allowed.max(axis=1)
        chars: list[str] = []
        confs: list[float] = []
        prev = -1
        for cls, p in zip(best, score, strict=True):
            if cls != prev and cls != 0:
                label = self._labels[cls]
                if label in SEPARATORS:
                    if chars and chars[-1] != " ":
                        chars.append(" ")
                else:
                    chars.append(label)
                    confs.append(float(p))
            elif cls == prev and cls != 0 and confs and self._labels[cls] not in SEPARATORS:
                confs[-1] = max(confs[-1], float(p))
            prev = cls
        return "".join(chars).strip(), [min(1.0, max(0.0, c)) for c in confs]


SPLIT_MARGIN = 0.05


def _pick(candidates: dict[str, OcrResult]) -> tuple[str | None, OcrResult]:
    """The most confident reading and its layout; the two-row split must beat the one-line band
    by a margin."""
    kind, best = "band", candidates.get("band")
    split, detect = candidates.get("split"), candidates.get("detect")
    if split is not None and (best is None or split.confidence > best.confidence + SPLIT_MARGIN):
        kind, best = "split", split
    if detect is not None and (best is None or detect.confidence > best.confidence):
        kind, best = "detect", detect
    return (kind, best) if best is not None else (None, OcrResult.empty())


def load_ctc(settings: OcrSettings) -> CtcRecogniser:
    """The ``onnx_ctc`` engine: ``settings.model_path`` is required."""
    if settings.model_path is None:
        raise OcrError("ocr.model_path: the onnx_ctc engine needs a model file")
    session = open_session(settings.model_path, settings.threads)
    charset = read_charset(session, settings.charset_path)
    return CtcRecogniser(session, charset, settings, load_line_finder(settings))
