"""The ensemble engine: the choice between members' reads (pure), the reader, and its setup."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from pydantic import ValidationError

from config.ocr import CascadeSettings, EnsembleSettings, OcrSettings
from ocr.base import OcrEngine, OcrError, OcrResult
from ocr.ensemble import EnsembleReader, calibrate, choose, extra_confidence, prefer
from ocr.lattice import N_COLUMNS, Lattice
from ocr.registry import ENGINES, load_engine
from tests.ocr.test_preprocess import plate


def read(text: str, *confs: float) -> OcrResult:
    """A result whose confidence is the mean of ``confs`` (one per non-separator character)."""
    confs = confs or (1.0,) * len(text.replace(" ", ""))
    return OcrResult(text, float(np.mean(confs)) if confs else 0.0, tuple(confs))


@pytest.mark.parametrize(
    ("longer", "confs", "shorter", "expected"),
    [
        ("", (), "", 0.0),
        ("AB", (0.5, 0.6), "AB", 0.0),
        ("AB", (0.5, 0.6), "", 0.6),
        ("AB", (0.5, 0.6), "ABC", None),
        ("AB", (0.5, 0.6), "BA", None),
        ("AB1C", (0.9, 0.8, 0.3, 0.9), "ABC", 0.3),
        # Which A is dropped is ambiguous: the least confident one is taken.
        ("AAAAC", (0.99, 0.79, 0.98, 0.97, 0.9), "AAAC", 0.79),
        ("4176NWN", (0.95, 0.99, 0.99, 0.99, 0.99, 0.99, 0.99), "176NWN", 0.95),
        ("031KS", (1.0, 1.0, 0.99, 0.99, 1.0), "03", 1.0),
    ],
)
def test_extra_confidence(longer, confs, shorter, expected):
    got = extra_confidence(longer, confs, shorter)
    assert got == (None if expected is None else pytest.approx(expected))


def test_extra_confidence_needs_one_confidence_per_character():
    with pytest.raises(ValueError, match="2 confidences for 3 characters"):
        extra_confidence("ABC", (0.5, 0.5), "AB")


@pytest.mark.parametrize(
    ("first", "second", "winner"),
    [
        # Agreement (compact text) keeps the first member's read, spaces and all.
        (read("AB 123", 0.6, 0.6, 0.6, 0.6, 0.6), read("AB123"), "first"),
        # One read lacks characters the other has: confident extras win, doubtful ones lose.
        (read("031 KS"), read("03"), "first"),
        (read("AAAAC", 0.99, 0.5, 0.98, 0.97, 0.9), read("AAAC"), "second"),
        (read("881Z"), read("881WZ", 1, 1, 1, 0.95, 1), "second"),
        (read("5J69A YG9X2G", 0.95, 0.3, 0.5, 0.5, 0.4, 1, 1, 1, 1, 1, 1), read("YG9X2G"), "first"),
        (read("881Z"), read("881WZ", 1, 1, 1, 0.85, 1), "first"),
        (read("N7808BY", 0.9, 0.9, 0.9, 0.5, 0.9, 0.9, 0.9), read("N788BY", 0.9, 0.9, 0.9, 0.9, 0.9, 0.9), "second"),
        # ... whatever the mean confidences say.
        (read("612 LS", 0.95, 0.95, 0.95, 0.95, 0.95), read("612", 1, 1, 1), "first"),
        # Otherwise the higher mean confidence; ties keep the first.
        (read("N7808BY", 0.9, 0.9, 0.9, 0.5, 0.9, 0.9, 0.9), read("N7B8BY", 1, 1, 1, 1, 1, 1), "second"),
        (read("ABC123", 0.9, 0.9, 0.9, 0.9, 0.9, 0.9), read("ABC128", 0.8, 0.8, 0.8, 0.8, 0.8, 0.8), "first"),
        (read("ABC123", 0.9, 0.9, 0.9, 0.9, 0.9, 0.9), read("XBC123", 0.9, 0.9, 0.9, 0.9, 0.9, 0.9), "first"),
        # An empty read loses to a confident one, and a read without per-character confidences
        # is compared by its mean only.
        (OcrResult.empty(), read("AB12"), "second"),
        (read("AB12"), OcrResult.empty(), "first"),
        (OcrResult("AB12X", 0.7), read("AB12", 0.6, 0.6, 0.6, 0.6), "first"),
    ],
)
def test_prefer(first, second, winner):
    assert prefer(first, second, min_extra=0.9) is (first if winner == "first" else second)


def test_choose_folds_members_in_order():
    reads = [read("ABC123", 0.8, 0.8, 0.8, 0.8, 0.8, 0.8), read("ABC128", 0.9, 0.9, 0.9, 0.9, 0.9, 0.9),
             read("ABC12B", 0.85, 0.85, 0.85, 0.85, 0.85, 0.85)]  # fmt: skip
    assert choose(reads, 0.9) is reads[1]
    assert choose(reads[:1], 0.9) is reads[0]
    assert choose([], 0.9) == OcrResult.empty()


@pytest.mark.parametrize(
    ("confidence", "scale", "shift", "expected"),
    [
        # (1, 0) keeps the confidence, clipped away from 0 and 1.
        (0.7, 1.0, 0.0, 0.7),
        (0.0, 1.0, 0.0, 1e-6),
        (1.0, 1.0, 0.0, 1 - 1e-6),
        # A shift moves 0.5 to sigmoid(shift); a larger scale spreads confidences apart.
        (0.5, 3.0, 1.0, 0.7310586),
        (0.9, 2.0, 0.0, 0.9878049),
        (0.99, 0.5, -1.0, 0.785424),
    ],
)
def test_calibrate(confidence, scale, shift, expected):
    assert calibrate(confidence, scale, shift) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("scale", [0.3, 1.0, 4.0])
def test_calibrate_keeps_the_order_of_confidences(scale):
    got = [calibrate(c, scale, -0.5) for c in (0.0, 0.2, 0.5, 0.9, 0.999, 1.0)]
    assert got == sorted(got)


@pytest.mark.parametrize(
    ("calibrations", "winner"),
    [
        # Raw: plate_rec's 0.95 beats rapidocr's 0.9.
        ((), 1),
        ((None, None), 1),
        # plate_rec's confidence discounted: rapidocr's read wins.
        ((None, (1.0, -1.0)), 0),
        ((None, (0.5, 0.0)), 0),
        ((None,), 1),
        # Calibration only changes rule 3: the left-out-characters rule stays as it is.
    ],
)
def test_choose_compares_calibrated_confidences(calibrations, winner):
    reads = [read("FA8M7S", 0.9, 0.9, 0.9, 0.9, 0.9, 0.9), read("FA8H7S", 0.95, 0.95, 0.95, 0.95, 0.95, 0.95)]
    assert choose(reads, 0.9, calibrations) is reads[winner]


@pytest.mark.parametrize("calibrations", [(), ((1.0, 5.0), (1.0, -5.0)), ((1.0, -5.0), (1.0, 5.0))])
def test_calibration_leaves_the_left_out_characters_rule_alone(calibrations):
    reads = [read("031 KS"), read("03", 1.0, 1.0)]
    assert choose(reads, 0.9, calibrations) is reads[0]


def test_choose_keeps_the_winners_calibrated_score_when_folding():
    reads = [read("AB1", 0.9, 0.9, 0.9), read("AB2", 0.95, 0.95, 0.95), read("AB3", 0.93, 0.93, 0.93)]
    # The second member is discounted below the first, the third is not: the third wins.
    assert choose(reads, 0.9, [None, (1.0, -3.0), None]) is reads[2]
    assert choose(reads, 0.9) is reads[1]


class Fixed:
    """A fake member engine answering the given reads, one per crop."""

    def __init__(self, *reads: OcrResult) -> None:
        self.reads = reads
        self.calls = 0

    def read(self, images):
        self.calls += 1
        assert len(images) == len(self.reads)
        return list(self.reads)


def test_reader_reads_every_crop_with_every_member_once():
    a = Fixed(read("AB12", 0.9, 0.9, 0.9, 0.9), read("XY 99"), OcrResult.empty())
    b = Fixed(read("AB17", 0.95, 0.95, 0.95, 0.95), read("XY99", 0.5, 0.5, 0.5, 0.5), OcrResult.empty())
    reader = EnsembleReader([a, b], min_extra=0.9)
    assert isinstance(reader, OcrEngine)
    assert [r.text for r in reader.read([None, None, None])] == ["AB17", "XY 99", ""]
    assert a.calls == b.calls == 1


def test_reader_min_confidence_applies_to_the_chosen_read():
    reader = EnsembleReader([Fixed(read("AB12", 0.4, 0.4, 0.4, 0.4)), Fixed(read("AB12", 0.9))], 0.9, 0.5)
    assert reader.read([None]) == [OcrResult.empty()]
    with pytest.raises(OcrError, match="at least one engine"):
        EnsembleReader([], 0.9)


def test_reader_passes_the_members_calibrations(monkeypatch):
    monkeypatch.setitem(ENGINES, "one", lambda settings: Fixed(read("AB12", 0.8, 0.8, 0.8, 0.8)))
    monkeypatch.setitem(ENGINES, "two", lambda settings: Fixed(read("AB17", 0.9, 0.9, 0.9, 0.9)))
    raw = EnsembleSettings(members=("one", "two"))
    assert load_engine(OcrSettings(type="ensemble", ensemble=raw)).read([None])[0].text == "AB17"
    calibrated = raw.model_copy(update={"calibration": {"two": (1.0, -2.0), "absent": (1.0, 0.0)}})
    assert load_engine(OcrSettings(type="ensemble", ensemble=calibrated)).read([None])[0].text == "AB12"


def test_members_are_built_from_the_registry(monkeypatch):
    built = []

    def member(settings):
        built.append(settings)
        return Fixed(read(settings.type.upper()))

    monkeypatch.setitem(ENGINES, "one", member)
    monkeypatch.setitem(ENGINES, "two", member)
    settings = OcrSettings(type="ensemble", min_confidence=0.3, ensemble=EnsembleSettings(members=("one", "two")))
    engine = load_engine(settings)
    assert [s.type for s in built] == ["one", "two"]
    assert all(s.min_confidence == 0.0 and s.rows == settings.rows for s in built)
    assert engine.read([None])[0].text == "ONE"


class ByCrop:
    """A fake member answering a read per crop (crops are names here) and noting what it was given."""

    def __init__(self, reads: dict[str, OcrResult]) -> None:
        self.reads = reads
        self.seen: list[list[str]] = []

    def read(self, images):
        self.seen.append(list(images))
        return [self.reads[name] for name in images]


def two_layouts(result: OcrResult) -> OcrResult:
    """``result`` as read by an engine that saw two ways to cut the crop into lines."""
    line = np.zeros((4, N_COLUMNS), np.float32)
    return replace(result, lattices=(Lattice("band", (line,), chosen=True), Lattice("split", (line, line))))


def test_a_cascade_reads_with_the_others_only_what_its_first_member_is_unsure_of():
    line = np.zeros((4, N_COLUMNS), np.float32)
    sure_read = replace(read("AB123"), lattices=(Lattice("band", (line,), chosen=True),))
    fast = ByCrop(
        {
            "sure": sure_read,
            "doubt": read("AB123", 1, 1, 1, 0.9, 1),  # one character below 0.95
            "short": read("AB12"),  # fewer than 5 characters
            "rows": two_layouts(read("AB123")),  # a possible two-row plate
            "none": OcrResult.empty(),
        }
    )
    slow = ByCrop({k: read("XY999", 0.99, 0.99, 0.99, 0.99, 0.99) for k in ("doubt", "short", "rows", "none")})
    reader = EnsembleReader([slow, fast], min_extra=0.9, names=("slow", "fast"), cascade=CascadeSettings(member="fast"))
    out = reader.read(["sure", "doubt", "short", "rows", "none"])
    assert fast.seen == [["sure", "doubt", "short", "rows", "none"]]
    assert slow.seen == [["doubt", "short", "rows", "none"]]
    assert out[0].text == "AB123" and [(x.source, x.layout) for x in out[0].lattices] == [("fast", "band")]
    # The rest are chosen between both reads as without the cascade (rule 3: the higher mean).
    assert [r.text for r in out[1:]] == ["XY999", "AB12", "AB123", "XY999"]
    assert [lattice.source for lattice in out[3].lattices] == ["fast", "fast"]
    # Every crop sure: the others read nothing.
    slow.seen.clear()
    assert [r.text for r in reader.read(["sure", "sure"])] == ["AB123", "AB123"]
    assert slow.seen == []


def test_a_cascade_without_its_member_is_refused():
    with pytest.raises(ValidationError, match="cascade.member: 'fast' is not one of"):
        EnsembleSettings(members=("rapidocr", "plate_rec"), cascade=CascadeSettings(member="fast"))
    with pytest.raises(OcrError, match="cascade.member: 'fast' is not one of"):
        EnsembleReader([Fixed()], 0.9, names=("slow",), cascade=CascadeSettings(member="fast"))


def test_the_cascade_is_built_from_the_settings(monkeypatch):
    slow, fast = ByCrop({"a": read("XY999")}), ByCrop({"a": read("AB123")})
    monkeypatch.setitem(ENGINES, "slow", lambda settings: slow)
    monkeypatch.setitem(ENGINES, "fast", lambda settings: fast)
    cascade = EnsembleSettings(members=("slow", "fast"), cascade=CascadeSettings(member="fast"))
    assert load_engine(OcrSettings(type="ensemble", ensemble=cascade)).read(["a"])[0].text == "AB123"
    assert slow.seen == []


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"model_path": "model.onnx"}, "not used by the ensemble"),
        ({"ensemble": EnsembleSettings(members=("rapidocr", "ensemble"))}, "cannot contain itself"),
        ({"ensemble": EnsembleSettings(members=("rapidocr", "tesseract"))}, "unknown engine 'tesseract'"),
    ],
)
def test_setup_errors(update, message):
    with pytest.raises(OcrError, match=message):
        load_engine(OcrSettings(type="ensemble", **update))


@pytest.mark.parametrize(
    "bad",
    [{"members": ()}, {"extra_confidence": 1.5}, {"typo": 1}, {"calibration": {"plate_rec": (0.0, 1.0)}},
     {"calibration": {"plate_rec": (1.0,)}}],
)  # fmt: skip
def test_settings_reject_bad_values(bad):
    with pytest.raises(ValidationError):
        EnsembleSettings(**bad)


def test_reads_rendered_plates_with_the_shipped_members():
    engine = load_engine(OcrSettings(type="ensemble"))
    results = engine.read([plate(["ABC1234"]), np.zeros((0, 0, 3), np.uint8)])
    assert results[0].text.replace(" ", "") == "ABC1234"
    assert results[1] == OcrResult.empty()
