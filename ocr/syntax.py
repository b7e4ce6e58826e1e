"""Syntax-constrained decoding: the most probable string that fits an enabled plate format.

A CTC recogniser's output (:class:`ocr.lattice.Lattice`) says, frame by frame, how likely each
character is. Greedy decoding takes the likeliest character of every frame, so a Californian
``4YTD483`` whose first glyph looks a little more like ``L`` comes out ``LYTD483``, which no
Californian format holds. Here the read is instead the string ``s`` of format ``f`` with the
highest

    score(s, f) = -scale * cost(s) - extra(s) + prior(f, s)

- ``cost(s)``: how much less likely the recogniser's best path that spells ``s`` is than its
  best path overall (natural log; 0 for the greedy read). The lattice is first reduced to
  *slots*: each run of frames the greedy path gives to one character, and the gaps between
  runs. A run can be read as any character (the log-probability its frames lose), or as nothing
  (noise: its frames read as blank); a gap can receive one missed character (the cost of its
  likeliest frame saying it).
- ``extra(s)``: runs before or after the plate may be *extra text* (a frame, a dealer's name, an
  emblem): ``extra_cost`` once, plus ``extra_char_cost`` (log 36) per character.
- ``prior(f, s) = -log(shapes of f) - log |shape|``: each shape (class string) of a format equally
  likely, each string of a shape equally likely, so a specific format fits a read by chance less
  often than a loose one; catch-all formats (the generic US pattern) pay ``catch_all_penalty``.

The raw read may also be a plate of no enabled format, with prior ``-unknown_char_cost`` (log 36)
per character minus ``unknown_penalty``; when that wins, the read keeps its raw text and
``format_name`` is None (``alpr eval`` and the flow then file it as fitting no format, never
dropping it). A read in which an engine saw a *masked* character (``plate_rec``: greyed out or
hidden) is kept as read: a partly hidden plate cannot be fitted.

Each engine's chosen line layout is decoded (the one its own read came from). Several engines
(the ensemble) are weighed together: every engine's best fits are candidates, and each candidate
is scored by the sum of the engines' costs (a product of their probabilities).

The decoder only picks the string; its region is the string's (``operators.validate``).
Parameters were chosen on val splits and our us-plates-ocr train split (docs/accuracy.md,
"Syntax-constrained decoding").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from rapidfuzz.distance import Levenshtein

from ocr.base import OcrEngine, OcrResult
from ocr.lattice import BLANK, CHARS, Lattice
from operators.normalise import CLASS_CHARS, READ_AS, compact
from operators.plate_formats import FormatSpec, expand_template, preset_formats
from operators.plate_scopes import Scoped

if TYPE_CHECKING:
    from config.settings import Settings

#: A character the recogniser saw but could not read (greyed out): any one character, or none.
WILDCARD = "?"
#: Prior bonus (nats) of a site's own formats (``flow.plates.custom_formats``): they win over presets.
CUSTOM_BONUS = 5.0
#: Format classes, in the order of the decoder's class tables.
CLASSES = "LNCAKD"
#: In texts scored by :func:`string_costs`: a written character that its class also reads from a
#: look-alike letter (``operators.normalise.READ_AS``: a British 1 read as I), as ``(written,
#: read)``; such a position costs the cheaper of the two. Encoded by :meth:`FormatTable.read_as`.
_READ_AS_PAIRS: tuple[tuple[str, str], ...] = tuple(
    sorted({(w, r) for rules in READ_AS.values() for r, w in rules.items()})
)
_READ_AS_MARK = {pair: chr(0x2460 + i) for i, pair in enumerate(_READ_AS_PAIRS)}  # circled digits: never in a read
_READ_AS_LETTER = {mark: read for (_, read), mark in _READ_AS_MARK.items()}
_INF = np.float32(1e9)
_N_CHARS = len(CHARS)


@dataclass(frozen=True, slots=True)
class SyntaxParams:
    """Weights of the decoder (see the module docstring); chosen on val splits."""

    scale: float = 2.0
    extra_cost: float = 16.0
    extra_char_cost: float = 3.58
    catch_all_penalty: float = 3.0
    unknown_penalty: float = 0.0
    unknown_char_cost: float = 3.58
    max_edits: int = 2
    member_scales: tuple[tuple[str, float], ...] = ()

    def extra(self, source: str, sources: int = 1) -> tuple[float, float]:
        """Cost of the first and of each further run of extra text, in one engine's units: extra
        text is a prior, not the engine's evidence, so it is divided by the engine's scale and
        shared by the ``sources`` engines weighed together."""
        share = self.scale_of(source) * sources
        return (self.extra_cost + self.extra_char_cost) / share, self.extra_char_cost / share

    def scale_of(self, source: str) -> float:
        """The cost scale of one engine (an ensemble member), default :attr:`scale`."""
        return dict(self.member_scales).get(source, self.scale)


@dataclass(frozen=True, slots=True)
class Fit:
    """A decoded string, the format it fits (None: none), its score and its cost per engine."""

    text: str
    format_name: str | None
    score: float
    cost: float


class FormatTable:
    """Enabled formats compiled for decoding: every class string (shape) once, with its prior."""

    def __init__(self, formats: Iterable[FormatSpec], catch_all_penalty: float = 4.0,
                 custom: Iterable[FormatSpec] = ()) -> None:  # fmt: skip
        best: dict[str, tuple[float, str]] = {}
        tagged = [(spec, 0.0) for spec in formats] + [(spec, CUSTOM_BONUS) for spec in custom]
        for spec, bonus in tagged:
            shapes = expand_template_all(spec)
            # Each shape of a format equally likely, each string of a shape equally likely.
            base = bonus - math.log(len(shapes)) - (catch_all_penalty if spec.weight is not None else 0.0)
            for shape in shapes:
                prior = base - sum(math.log(len(CLASS_CHARS[k])) for k in shape)
                if shape not in best or prior > best[shape][0]:
                    best[shape] = (prior, spec.name)
        self.shapes = tuple(sorted(best, key=lambda s: (len(s), s)))
        self.priors = np.array([best[s][0] for s in self.shapes], dtype=np.float32)
        self.names = tuple(best[s][1] for s in self.shapes)
        self.lengths = np.array([len(s) for s in self.shapes], dtype=np.intp)
        width = int(self.lengths.max(initial=0))
        # Class id per position; positions past a shape's end get a padding class of cost inf.
        self.classes = np.full((len(self.shapes), width), len(CLASSES), dtype=np.intp)
        for i, shape in enumerate(self.shapes):
            self.classes[i, : len(shape)] = [CLASSES.index(k) for k in shape]
        # member[c, k]: class k reads character c (lattice column - 1), as itself or as the
        # character it stands for (operators.normalise.READ_AS);
        # written: texts (decoded strings) hold only the characters a class writes.
        self.member = np.array(
            [[c in CLASS_CHARS[k] or c in READ_AS.get(k, {}) for k in CLASSES] for c in CHARS], dtype=bool
        )
        written = np.array([[c in CLASS_CHARS[k] for k in CLASSES] for c in CHARS], dtype=bool)
        self._member_or_wildcard = np.vstack([written, np.ones((1, len(CLASSES)), dtype=bool)])  # wildcard: any
        self.reads_as = np.array([any(k in READ_AS for k in shape) for shape in self.shapes], dtype=bool)
        self._by_length: dict[int, np.ndarray] = {
            n: np.flatnonzero(self.lengths == n) for n in np.unique(self.lengths).tolist()
        }

    def __len__(self) -> int:
        return len(self.shapes)

    def best_prior(self, text: str) -> tuple[float, str | None]:
        """The highest prior of a shape that ``text`` (compact) fits, and that shape's format."""
        prior, i = self.best_shape(text)
        return prior, (None if i is None else self.names[i])

    def best_shape(self, text: str, reads_as: bool = False) -> tuple[float, int | None]:
        """The highest prior of a shape that ``text`` (compact) fits, and that shape (its row);
        ``reads_as``: among the shapes with a class that reads look-alike letters only."""
        rows = self._by_length.get(len(text))
        if rows is None or not text or any(c not in CHARS and c != WILDCARD for c in text):
            return -np.inf, None
        if reads_as:
            rows = rows[self.reads_as[rows]]
        ids = [_N_CHARS if c == WILDCARD else CHARS.index(c) for c in text]
        fits = self._member_or_wildcard[ids][np.arange(len(ids)), self.classes[rows, : len(ids)]].all(axis=1)
        if not fits.any():
            return -np.inf, None
        i = int(rows[fits][int(np.argmax(self.priors[rows[fits]]))])
        return float(self.priors[i]), i

    def read_as(self, text: str, row: int) -> str:
        """``text`` (which shape ``row`` holds) for :func:`string_costs`: each character that its
        class also reads from a look-alike letter marked, so that either costs what the cheaper does."""
        out = []
        for c, k in zip(text, self.shapes[row], strict=True):
            read = [r for r, w in READ_AS.get(k, {}).items() if w == c]
            out.append(_READ_AS_MARK[(c, read[0])] if read else c)
        return "".join(out)


def expand_template_all(spec: FormatSpec) -> tuple[str, ...]:
    """Every class string of every template of ``spec``."""
    return tuple(dict.fromkeys(c for t in spec.templates for c in expand_template(t, spec.max_len)))


@dataclass(frozen=True, slots=True)
class Slots:
    """A lattice reduced to alternating gaps and runs (``n`` runs, ``n + 1`` gaps).

    ``emit[i, c]``: cost of reading run ``i`` as character ``c`` (37 columns: ``0-9A-Z`` then
    masked); ``drop[i]``: cost of reading it as nothing; ``insert[i, c]``: cost of a missed
    character ``c`` in gap ``i`` (inf where the gap has no frame)."""

    emit: np.ndarray
    drop: np.ndarray
    insert: np.ndarray


def slots(frames: np.ndarray) -> Slots:
    """Reduce ``(T, 38)`` lattice log-probabilities to :class:`Slots`."""
    best = frames.argmax(axis=1)
    t_count = len(best)
    runs: list[tuple[int, int]] = []
    t = 0
    while t < t_count:
        if best[t] == BLANK:
            t += 1
            continue
        end = t + 1
        while end < t_count and best[end] == best[t]:
            end += 1
        runs.append((t, end))
        t = end
    n = len(runs)
    emit = np.empty((n, _N_CHARS + 1), dtype=np.float32)
    drop = np.empty(n, dtype=np.float32)
    insert = np.full((n + 1, _N_CHARS + 1), _INF, dtype=np.float32)
    top = frames[np.arange(t_count), best]
    blank = frames[:, BLANK]
    previous_end = 0
    for i, (a, b) in enumerate(runs):
        chars = frames[a:b, 1:]
        base = float(top[a:b].sum())
        either = np.maximum(chars, blank[a:b, None])
        # At least one frame of the run must say the character.
        forced = np.minimum((chars - blank[a:b, None]).max(axis=0), 0.0)
        emit[i] = base - (either.sum(axis=0) + forced)
        drop[i] = base - float(blank[a:b].sum())
        if a > previous_end:
            insert[i] = (blank[previous_end:a, None] - frames[previous_end:a, 1:]).min(axis=0)
        previous_end = b
    if t_count > previous_end:
        insert[n] = (blank[previous_end:, None] - frames[previous_end:, 1:]).min(axis=0)
    return Slots(np.maximum(emit, 0.0), np.maximum(drop, 0.0), np.maximum(insert, 0.0))


def _written(char: str, k: int) -> str:
    """The character class ``CLASSES[k]`` writes for ``char`` read (a British I at a digit: 1)."""
    return READ_AS.get(CLASSES[k], {}).get(char, char)


def _class_costs(costs: np.ndarray, member: np.ndarray) -> tuple[np.ndarray, list[list[str]]]:
    """Per slot, the cheapest character of each class (a masked slot counts for every class):
    ``(slots, classes + 1)`` costs (last column: inf, the padding class), and that character
    per slot and class (:data:`WILDCARD` where the mask is cheapest)."""
    real = costs[:, :_N_CHARS]
    masked = costs[:, _N_CHARS]
    table = np.where(member[None, :, :], real[:, :, None], _INF)  # (slots, chars, classes)
    which = table.argmin(axis=1)
    best = table.min(axis=1)
    chars = [
        [WILDCARD if mk < b else _written(CHARS[w], k) for k, (w, b) in enumerate(zip(ws, bs, strict=True))]
        for ws, bs, mk in zip(which.tolist(), best.tolist(), masked.tolist(), strict=True)
    ]
    cost = np.minimum(best, masked[:, None])
    pad = np.full((len(costs), 1), _INF, dtype=np.float32)
    return np.concatenate([cost, pad], axis=1), chars


def align(s: Slots, symbols: np.ndarray, lengths: np.ndarray, emit: np.ndarray, insert: np.ndarray,
          extra: tuple[float, float]) -> np.ndarray:  # fmt: skip
    """Cheapest way for each row of ``symbols`` (``(rows, width)`` symbol ids, padded) to be
    read from the slots: ``(rows,)`` costs.

    ``emit`` / ``insert`` are ``(runs, symbols + 1)`` / ``(runs + 1, symbols + 1)`` costs of
    reading a run / filling a gap as each symbol (the last id pads, cost inf). A run may also
    be dropped as noise (``s.drop``), or belong to extra text before or after the plate:
    ``extra = (first, each further)`` cost of such a run."""
    first, further = extra
    rows, width = symbols.shape
    every = np.arange(rows)
    gaps_at = insert[:, symbols]  # (runs + 1, rows, width): one gather for every slot
    runs_at = emit[:, symbols]
    cost = np.full((rows, width + 1), _INF, dtype=np.float32)  # cost[:, j]: j characters placed
    cost[:, 0] = 0.0
    before = np.full(rows, _INF, dtype=np.float32)  # extra text read, nothing placed yet
    after = np.full(rows, _INF, dtype=np.float32)  # plate complete, extra text read after it
    placed = np.empty((rows, width), dtype=np.float32)  # where the next character may start from
    for i, noise in enumerate([*s.drop.tolist(), None]):
        np.minimum(cost[:, 0], before, out=placed[:, 0])
        placed[:, 1:] = cost[:, 1:-1]
        np.minimum(cost[:, 1:], placed + gaps_at[i], out=cost[:, 1:])  # a missed character
        if noise is None:
            break
        placed[:, 1:] = cost[:, 1:-1]
        skip = min(further, noise)
        after = np.minimum(after + skip, cost[every, lengths] + first)
        before = np.minimum(before + skip, cost[:, 0] + first)
        new = cost + noise
        np.minimum(new[:, 1:], placed + runs_at[i], out=new[:, 1:])
        cost = new
    return np.minimum(cost[every, lengths], after)


def spell(s: Slots, shape: Sequence[int], emit: tuple[np.ndarray, list[list[str]]],
          insert: tuple[np.ndarray, list[list[str]]], extra: tuple[float, float]) -> str:  # fmt: skip
    """The cheapest string of one shape (class ids) read from the slots: the alignment of
    :func:`align` for that shape, backtracked. ``emit`` / ``insert``: :func:`_class_costs` of the
    slots' run and gap costs."""
    first, further = extra
    k = len(shape)
    emit_cost, emit_char = emit[0].tolist(), emit[1]
    insert_cost, insert_char = insert[0].tolist(), insert[1]
    drop = s.drop.tolist()
    cost = [0.0] + [math.inf] * k
    path: list[str] = [""] * (k + 1)
    before, after, after_path = math.inf, math.inf, ""
    for i in range(len(drop) + 1):
        start = min(cost[0], before)
        row, chars = insert_cost[i], insert_char[i]
        for j in range(k - 1, -1, -1):
            c = (start if j == 0 else cost[j]) + row[shape[j]]
            if c < cost[j + 1]:
                cost[j + 1], path[j + 1] = c, path[j] + chars[shape[j]]
        if i == len(drop):
            break
        noise = drop[i]
        row, chars = emit_cost[i], emit_char[i]
        new = [c + noise for c in cost]
        new_path = list(path)
        for j in range(k):
            c = (start if j == 0 else cost[j]) + row[shape[j]]
            if c < new[j + 1]:
                new[j + 1], new_path[j + 1] = c, path[j] + chars[shape[j]]
        before = min(before + min(further, noise), cost[0] + first)
        if cost[k] + first < after + min(further, noise):
            after, after_path = cost[k] + first, path[k]
        else:
            after += min(further, noise)
        cost, path = new, new_path
    return path[k] if cost[k] <= after else after_path


def string_costs(s: Slots, texts: Sequence[str], extra: tuple[float, float]) -> np.ndarray:
    """Cost of reading each of ``texts`` (compact ``0-9A-Z``, and :data:`WILDCARD`) from the slots.

    A wildcard is any one character (a run read as its cheapest character, or a gap's cheapest
    missed character) or nothing. A character marked by :meth:`FormatTable.read_as` costs the
    cheaper of itself and the look-alike letter its class reads it from."""
    width = max((len(t) for t in texts), default=0)
    wild, pad = _N_CHARS, _N_CHARS + 1
    marks = {mark: pad + 1 + j for j, mark in enumerate(_READ_AS_MARK.values())}
    symbols = np.full((len(texts), width), pad, dtype=np.intp)
    for i, t in enumerate(texts):
        symbols[i, : len(t)] = [wild if c == WILDCARD else marks[c] if c in marks else CHARS.index(c) for c in t]
    lengths = np.array([len(t) for t in texts], dtype=np.intp)

    def table(costs: np.ndarray) -> np.ndarray:
        # A masked slot may be any character: the cost of a character is its own or the mask's.
        real = np.minimum(costs[:, :_N_CHARS], costs[:, _N_CHARS:])
        either = [np.minimum(real[:, CHARS.index(w)], real[:, CHARS.index(r)])[:, None] for w, r in _READ_AS_MARK]
        return np.concatenate([real, real.min(axis=1, keepdims=True), np.full((len(costs), 1), _INF), *either], 1)

    if not (symbols == wild).any():
        return align(s, symbols, lengths, table(s.emit), table(s.insert), extra)
    # Wildcards may also stand for nothing: try each text with its wildcards removed as well.
    bare = [t.replace(WILDCARD, "") for t in texts]
    return np.minimum(
        align(s, symbols, lengths, table(s.emit), table(s.insert), extra),
        string_costs(s, bare, extra) if any(bare) else np.full(len(texts), _INF, np.float32),
    )


class SyntaxDecoder:
    """Decodes reads under the enabled formats (see the module docstring)."""

    def __init__(self, formats: Iterable[FormatSpec], params: SyntaxParams = SyntaxParams(), top: int = 3,
                 custom: Iterable[FormatSpec] = ()) -> None:  # fmt: skip
        self.table = FormatTable(formats, params.catch_all_penalty, custom)
        self.params = params
        self._top = top

    def fits(self, lattice: Lattice, s: Slots | None = None) -> list[Fit]:
        """The best fits of one lattice (``s``: its slots, when known): the ``top`` best shapes
        with their strings and costs."""
        p = self.params
        s = slots(lattice.frames()) if s is None else s
        if not len(self.table):
            return []
        t = self.table
        emit = _class_costs(s.emit, t.member)
        insert = _class_costs(s.insert, t.member)
        costs = align(s, t.classes, t.lengths, emit[0], insert[0], p.extra(lattice.source))
        scores = -p.scale_of(lattice.source) * costs + t.priors
        order = np.argsort(-scores)[: self._top]
        return [
            Fit(
                spell(s, t.classes[i, : t.lengths[i]].tolist(), emit, insert, p.extra(lattice.source)),
                t.names[i],
                float(scores[i]),
                float(costs[i]),
            )  # fmt: skip
            for i in order
            if costs[i] < _INF / 2
        ]

    def decode(self, result: OcrResult) -> OcrResult:
        """``result`` with its text replaced by the best fit of its lattices (unchanged when it
        has none or nothing fits better than the raw read)."""
        if not result.lattices:
            return result
        best = self.best(result.lattices, compact(result.text))
        if best is None or best.format_name is None:
            return result
        return replace(result, text=best.text.replace(WILDCARD, ""))

    def best(self, lattices: Sequence[Lattice], raw: str) -> Fit | None:
        """The best fit over the engines' chosen layouts of one crop (every layout of an engine
        that marks none); the raw read (format None) when it beats every fit, or when an engine
        saw a masked character (a plate partly hidden fits no format as read)."""
        p = self.params
        lattices = chosen_layouts(lattices)
        if any(lattice.masked() for lattice in lattices):
            return Fit(raw, None, 0.0, 0.0)
        reduced = [(lattice, slots(lattice.frames())) for lattice in lattices]
        fits: dict[str, Fit] = {}
        for lattice, s in reduced:
            for fit in self.fits(lattice, s):
                fits.setdefault(fit.text, fit)
        texts = list(dict.fromkeys([*fits, *([raw] if raw else [])]))
        if not texts:
            return None
        # A text that a shape reading look-alikes holds (a British 10 read IO) is also scored as
        # read there: its marked characters cost the cheaper of themselves and their look-alikes.
        read_as: dict[str, tuple[float, int, str]] = {}
        for text in texts:
            prior, row = self.table.best_shape(text, reads_as=True)
            if row is not None and (marked := self.table.read_as(text, row)) != text:
                read_as[text] = (prior, row, marked)
        encodings = list(dict.fromkeys([*texts, *(marked for _, _, marked in read_as.values())]))
        if len(reduced) == 1:  # one engine, one layout: the fits' own costs
            lattice, s = reduced[0]
            others = [t for t in encodings if t not in fits]
            extra = p.extra(lattice.source)
            known = dict(zip(others, string_costs(s, others, extra).tolist(), strict=True)) if others else {}
            scale = p.scale_of(lattice.source)
            total = {t: -scale * (fits[t].cost if t in fits else known[t]) for t in encodings}
        else:  # every engine's cheapest layout for each candidate, summed over engines
            by_source: dict[str, list[Slots]] = {}
            for lattice, s in reduced:
                by_source.setdefault(lattice.source, []).append(s)
            sums = np.zeros(len(encodings), dtype=np.float64)
            for source, layouts in by_source.items():
                extra = p.extra(source, len(by_source))
                sums -= p.scale_of(source) * np.min([string_costs(s, encodings, extra) for s in layouts], axis=0)
            total = dict(zip(encodings, sums.tolist(), strict=True))
        best_fit: Fit | None = None
        for text in texts:
            prior, name = self.table.best_prior(text)
            if text == raw:  # the raw read may also be a plate of no enabled format
                unknown = -len(text.replace(WILDCARD, "")) * p.unknown_char_cost - p.unknown_penalty
                if unknown > prior:
                    prior, name = unknown, None
            close = near(text, raw, p.max_edits)
            options = [(total[text], prior, name, close)]
            if text in read_as:  # a correction as read too: the raw read with its look-alike letters
                prior_read, row, marked = read_as[text]
                as_read = "".join(_READ_AS_LETTER.get(c, c) for c in marked)
                options.append(
                    (total[marked], prior_read, self.table.names[row], close or near(as_read, raw, p.max_edits))
                )
            for score, prior, name, close in options:
                if not close or prior == -np.inf:
                    continue
                if best_fit is None or score + prior > best_fit.score:
                    best_fit = Fit(text, name, score + prior, -score)
        return best_fit


def near(text: str, raw: str, max_edits: int) -> bool:
    """``text`` is a correction of the raw read, not another read: the raw read with at most
    ``max_edits`` characters changed, added or left out, or with extra text around it left out."""
    return not raw or text in raw or Levenshtein.distance(text, raw, score_cutoff=max_edits) <= max_edits


def chosen_layouts(lattices: Sequence[Lattice]) -> list[Lattice]:
    """Per engine (``source``), the lattices of the layout it chose, or all of them if it marks none."""
    marked = {lattice.source for lattice in lattices if lattice.chosen}
    return [lattice for lattice in lattices if lattice.chosen or lattice.source not in marked]


class SyntaxReader:
    """An engine whose reads are decoded under plate formats (:class:`SyntaxDecoder`).

    ``by_scope`` gives the decoder of a crop's site and camera (``flow.plates.sites``,
    ``flow.plates.cameras``; :meth:`read_at`); :meth:`read` decodes every crop with ``decoder``.
    """

    def __init__(
        self,
        engine: OcrEngine,
        decoder: SyntaxDecoder,
        by_scope: Callable[[str | None, str | None], SyntaxDecoder] | None = None,
    ) -> None:
        self._engine = engine
        self._decoder = decoder
        self._by_scope = by_scope

    def read(self, images: Sequence[np.ndarray]) -> list[OcrResult]:
        """One result per crop, in order."""
        return [self._decoder.decode(r) for r in self._engine.read(images)]

    def read_at(self, images: Sequence[np.ndarray], scopes: Sequence[tuple[str | None, str | None]]) -> list[OcrResult]:
        """One result per crop, in order, each decoded under the formats of its ``(site, camera)``."""
        if len(scopes) != len(images):
            raise ValueError(f"SyntaxReader.read_at: {len(scopes)} scopes for {len(images)} crops")
        if self._by_scope is None:
            return self.read(images)
        by_scope = self._by_scope
        results = self._engine.read(images)
        return [by_scope(site, camera).decode(r) for r, (site, camera) in zip(results, scopes, strict=True)]


def load_reader(settings: Settings) -> OcrEngine:
    """The configured engine (``ocr``), its reads decoded under the enabled plate formats
    (``flow.plates.presets``, a site's or camera's own presets, and template ``custom_formats``)
    unless ``ocr.syntax.enabled`` is off."""
    from ocr.registry import load_engine

    engine = load_engine(settings.ocr)
    syntax = settings.ocr.syntax
    if not syntax.enabled:
        return engine
    rules = settings.flow.plates
    custom = [FormatSpec(f.name, f.region, (f.template,)) for f in rules.custom_formats if f.template is not None]
    weights = syntax.model_dump(exclude={"enabled", "member_scales"})
    params = SyntaxParams(**weights, member_scales=tuple(sorted(syntax.member_scales.items())))
    decoders = Scoped(rules, lambda scope: SyntaxDecoder(preset_formats(scope.presets), params, custom=custom))
    return SyntaxReader(engine, decoders.default, None if decoders.uniform else decoders.of)
