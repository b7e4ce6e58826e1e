"""Test-time variants: the crop transforms and the vote (pure), the voting reader, its setup."""

from __future__ import annotations

from typing import get_args

import numpy as np
import pytest
from pydantic import ValidationError

from config.ocr import EnsembleSettings, OcrSettings, Variant
from ocr.base import OcrEngine, OcrError, OcrResult
from ocr.registry import ENGINES, load_engine
from ocr.variants import PLATE_REC_VAL_CHOICE, VARIANTS, VotingReader, crop_in, stretch, vote, widen
from tests.ocr.test_ensemble import Fixed, read


def test_every_setting_name_has_a_transform():
    assert set(VARIANTS) == set(get_args(Variant))
    assert set(PLATE_REC_VAL_CHOICE) <= set(VARIANTS)


@pytest.mark.parametrize(
    ("shape", "fraction", "expected"),
    [
        ((4, 4, 3), 0.03, (4, 4, 3)),  # too small to lose a pixel
        ((100, 300, 3), 0.0, (100, 300, 3)),
        ((100, 300, 3), 0.03, (94, 282, 3)),
        ((50, 160, 3), 0.06, (44, 140, 3)),
    ],
)
def test_crop_in(shape, fraction, expected):
    assert crop_in(np.zeros(shape, np.uint8), fraction).shape == expected


@pytest.mark.parametrize(
    ("shape", "factor", "expected"),
    [
        ((4, 4, 3), 0.9, (4, 4, 3)),
        ((1, 1, 3), 0.5, (1, 1, 3)),
        ((50, 160, 3), 0.9, (50, 144, 3)),
        ((50, 100, 3), 1.12, (50, 112, 3)),
    ],
)
def test_widen(shape, factor, expected):
    assert widen(np.zeros(shape, np.uint8), factor).shape == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([7, 7, 7, 7], [7, 7, 7, 7]),  # flat: unchanged
        ([100, 100, 150, 150], [0, 0, 255, 255]),
        ([0, 255, 0, 255], [0, 255, 0, 255]),
    ],
)
def test_stretch(values, expected):
    image = np.repeat(np.array(values, np.uint8).reshape(2, 2, 1), 3, axis=2)
    assert stretch(image)[:, :, 0].ravel().tolist() == expected


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_transforms_keep_a_bgr_crop_and_never_modify_the_input(name):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 120, 3), dtype=np.uint8)
    before = image.copy()
    out = VARIANTS[name](image)
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    assert 30 <= out.shape[0] <= 50 and 100 <= out.shape[1] <= 150
    np.testing.assert_array_equal(image, before)


@pytest.mark.parametrize(
    ("reads", "expected"),
    [
        ([], ""),
        ([read("AB12", 0.5)], "AB12"),
        # The most frequent text (compact) wins, even against a more confident read ...
        ([read("AB12", 0.6), read("AB 12", 0.7), read("A812", 0.99)], "AB 12"),
        # ... a tie goes to the text with the most confident read.
        ([read("AB12", 0.6), read("A812", 0.9), read("AB12", 0.7), read("A812", 0.5)], "A812"),
        ([read("AB12", 0.8), OcrResult.empty(), OcrResult.empty()], ""),
    ],
)
def test_vote(reads, expected):
    assert vote(reads).text == expected


def test_vote_returns_one_of_the_reads_unchanged():
    reads = [read("AB12", 0.6, 0.6, 0.6, 0.6), read("AB12", 0.9, 0.8, 0.9, 0.9), read("X", 1.0)]
    assert vote(reads) is reads[1]


class Recording:
    """A fake engine that records the crops it is given and answers their widths."""

    def __init__(self) -> None:
        self.batches: list[list] = []

    def read(self, images):
        self.batches.append(list(images))
        return [OcrResult.empty() if i is None else OcrResult(str(i.shape[1]), 0.9, (0.9,) * len(str(i.shape[1])))
                for i in images]  # fmt: skip


def test_reader_reads_each_variant_once_and_votes():
    engine = Recording()
    reader = VotingReader(engine, ("as_is", "pad_10", "as_is"))
    assert isinstance(reader, OcrEngine)
    crop = np.zeros((20, 100, 3), np.uint8)
    # as_is twice (width 100) outvotes pad_10 (120); an unreadable crop reaches the engine as it is.
    assert [r.text for r in reader.read([crop, None])] == ["100", ""]
    assert len(engine.batches) == 3 and engine.batches[1][1] is None


@pytest.mark.parametrize("variants", [(), ("as_is", "mirror")])
def test_reader_needs_known_variants(variants):
    with pytest.raises(OcrError, match="known variant names"):
        VotingReader(Recording(), variants)


@pytest.mark.parametrize(
    "variants",
    [{"plate_rec": ()}, {"plate_rec": ("as_is", "mirror")}, {"plate_rec": "as_is pad_5"}],
)
def test_settings_refuse_bad_variants(variants):
    with pytest.raises(ValidationError):
        EnsembleSettings(variants=variants)


def test_ensemble_wraps_only_the_named_members(monkeypatch):
    engines = {"one": Fixed(read("AB12")), "two": Fixed(read("AB12"))}
    for name, engine in engines.items():
        monkeypatch.setitem(ENGINES, name, lambda settings, engine=engine: engine)
    variants = {"two": ("as_is", "grey", "pad_5"), "three": ("grey",)}  # "three" is no member: ignored
    settings = OcrSettings(type="ensemble", ensemble=EnsembleSettings(members=("one", "two"), variants=variants))
    assert load_engine(settings).read([np.zeros((20, 60, 3), np.uint8)])[0].text == "AB12"
    assert (engines["one"].calls, engines["two"].calls) == (1, 3)


def test_default_reads_every_member_once():
    assert OcrSettings().ensemble.variants == {}
