"""What a CTC recogniser saw: per-frame log-probabilities over the plate characters.

Every CTC engine reduces its model's output to one common alphabet, :data:`COLUMNS`:
column 0 is *nothing* (the CTC blank, separators and every class that is no plate character),
columns 1-36 are ``0-9`` and ``A-Z`` (case folded), column 37 is *masked* (a character greyed
out for privacy; only ``plate_rec`` has it). A :class:`Lattice` holds one way of cutting a
crop into text lines (``band``, ``split``, ``detect``) and one ``(T, 38)`` float32 matrix of
natural-log probabilities per line, top line first. :mod:`ocr.syntax` decodes lattices into
the most probable string that fits a plate format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: The plate characters, columns 1..36 of a lattice.
CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
BLANK = 0
MASKED = len(CHARS) + 1
N_COLUMNS = len(CHARS) + 2
_FLOOR = 1e-9  # probabilities are clipped here before the log: no -inf in a lattice


@dataclass(frozen=True, slots=True, eq=False)
class Lattice:
    """One reading of a crop: ``layout`` (how it was cut into lines), one ``(T, 38)`` log-prob
    matrix per line, the engine that read it (``source``, set by an ensemble) and whether it is
    the layout the engine chose for its read (``chosen``)."""

    layout: str
    lines: tuple[np.ndarray, ...]
    source: str = ""
    chosen: bool = False

    def __post_init__(self) -> None:
        for line in self.lines:
            if line.ndim != 2 or line.shape[1] != N_COLUMNS:
                raise ValueError(f"Lattice.lines: each line must be (T, {N_COLUMNS}), got {line.shape}")

    def frames(self) -> np.ndarray:
        """All lines as one ``(T, 38)`` matrix, a certain-blank frame between lines (a character
        cannot run on from the end of one row into the next)."""
        if len(self.lines) == 1:
            return self.lines[0]
        gap = np.full((1, N_COLUMNS), np.log(_FLOOR), dtype=np.float32)
        gap[0, BLANK] = 0.0
        parts: list[np.ndarray] = []
        for i, line in enumerate(self.lines):
            if i:
                parts.append(gap)
            parts.append(line)
        return np.concatenate(parts) if parts else np.zeros((0, N_COLUMNS), np.float32)

    def with_source(self, source: str) -> Lattice:
        """The same lattice attributed to ``source``."""
        return Lattice(self.layout, self.lines, source, self.chosen)

    def greedy(self) -> tuple[str, float]:
        """The greedy read of the lattice (masked characters left out) and its mean character
        probability (0 for an empty read)."""
        frames = self.frames()
        best = frames.argmax(axis=1)
        chars: list[str] = []
        probs: list[float] = []
        previous = BLANK
        for t, column in enumerate(best.tolist()):
            if column not in (BLANK, previous):
                chars.append(CHARS[column - 1] if column != MASKED else "")
                probs.append(float(np.exp(frames[t, column])))
            elif column != BLANK:
                probs[-1] = max(probs[-1], float(np.exp(frames[t, column])))
            previous = column
        kept = [p for c, p in zip(chars, probs, strict=True) if c]
        return "".join(chars), float(np.mean(kept)) if kept else 0.0

    def masked(self) -> bool:
        """Some frame's likeliest class is *masked*: a character the engine saw but could not read."""
        return any(bool((line.argmax(axis=1) == MASKED).any()) for line in self.lines)


class ColumnMap:
    """Turns a model's ``(T, C)`` class probabilities into ``(T, 38)`` lattice log-probabilities.

    ``labels[i]`` is the text of model class ``i`` (class 0 = blank). A class whose upper-cased
    label is a plate character goes to that character's column, ``?`` to :data:`MASKED`; the
    probability of everything else (blank, separators, other scripts) is *nothing*."""

    def __init__(self, labels: Sequence[str]) -> None:
        columns = []
        for i, label in enumerate(labels):
            up = label.upper() if i else ""
            if len(up) == 1 and up in CHARS:
                columns.append((i, CHARS.index(up) + 1))
            elif i and label == "?":
                columns.append((i, MASKED))
        self.classes = np.array([i for i, _ in columns], dtype=np.intp)
        self._project = np.zeros((len(columns), N_COLUMNS), dtype=np.float32)
        for row, (_, column) in enumerate(columns):
            self._project[row, column] = 1.0

    def __call__(self, probs: np.ndarray) -> np.ndarray:
        """``(T, C)`` probabilities -> ``(T, 38)`` float32 log-probabilities (a new array)."""
        out = probs[:, self.classes].astype(np.float32) @ self._project
        out[:, BLANK] = 1.0 - out.sum(axis=1)
        return np.log(np.clip(out, _FLOOR, 1.0))
