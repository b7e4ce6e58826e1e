"""The OCR step: real crops through the real default engine, in batches, bad bytes read empty."""

from __future__ import annotations

import pytest

from config.settings import Settings
from flows import metrics
from flows.steps.ocr import CropReader, decode_image, to_read
from ocr.base import OcrResult
from ocr.registry import load_engine
from tests.flows.crops import labelled_crops, make_crop


@pytest.fixture(scope="module")
def reader() -> CropReader:
    return CropReader(lambda: load_engine(Settings().ocr), batch_size=4)


def test_reads_real_crops_in_order_across_batches(reader):
    labelled = labelled_crops()[:6]
    crops = [make_crop(lc.jpeg, index=i) for i, lc in enumerate(labelled)]
    before = metrics.OCR_BATCH_SIZE._sum.get()
    reads = reader.read(crops)
    assert [r.crop_id for r in reads] == [c.crop_id for c in crops]
    right = sum(r.text == lc.plate for r, lc in zip(reads, labelled, strict=True))
    assert right >= 5, [(r.text, lc.plate) for r, lc in zip(reads, labelled, strict=True)]
    assert all(0 < r.confidence <= 1 for r in reads)
    assert metrics.OCR_BATCH_SIZE._sum.get() - before == 6  # batches of 4 + 2


@pytest.mark.parametrize(
    "image", [b"", b"\xff\xd8\xff garbage", b"GIF89a not really"], ids=["empty", "jpeg-junk", "gif"]
)
def test_undecodable_crops_read_empty_and_keep_their_place(reader, image):
    good = make_crop(labelled_crops()[0].jpeg, index=0)
    bad = make_crop(image, index=1)
    assert decode_image(bad) is None
    reads = reader.read([bad, good, bad])
    assert [r.crop_id for r in reads] == [bad.crop_id, good.crop_id, bad.crop_id]
    assert (reads[0].text, reads[0].confidence) == ("", 0.0)
    assert reads[1].text == labelled_crops()[0].plate


@pytest.mark.parametrize(
    ("result", "text", "chars"),
    [
        (OcrResult("AB12", 0.9, (0.9, 0.8, 0.7, 0.6)), "AB12", (0.9, 0.8, 0.7, 0.6)),
        (OcrResult("AB 12", 0.9, (0.9, 0.8, 0.7, 0.6)), "AB12", (0.9, 0.8, 0.7, 0.6)),
        (OcrResult("AB-12", 0.9, (0.9, 0.8)), "AB-12", ()),
        (OcrResult("", 0.0, ()), "", ()),
    ],
    ids=["plain", "separator", "mismatch", "empty"],
)
def test_engine_results_convert_to_reads(result, text, chars):
    read = to_read(make_crop(b"x"), result)
    assert (read.text, read.char_confidences, read.confidence) == (text, chars, result.confidence)


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="batch_size"):
        CropReader(lambda: None, batch_size=0)


class ChokesOnTinyCrops:
    """An engine that fails like a broken backend on crops under 20 px wide, reads others as their width."""

    def read(self, images):
        if any(img.shape[1] < 20 for img in images):
            raise RuntimeError("backend exploded")
        return [OcrResult(f"W{img.shape[1]}", 0.9) for img in images]


def _png(width: int) -> bytes:
    import cv2
    import numpy as np

    return cv2.imencode(".png", np.full((10, width, 3), 255, np.uint8))[1].tobytes()


def test_an_engine_failure_on_one_crop_reads_it_empty_and_keeps_the_others():
    reader = CropReader(ChokesOnTinyCrops, batch_size=8)
    crops = [make_crop(_png(w), index=i) for i, w in enumerate([40, 10, 30])]
    before = metrics.OCR_FAILURES._value.get()
    reads = reader.read(crops)
    assert [r.text for r in reads] == ["W40", "", "W30"]
    assert metrics.OCR_FAILURES._value.get() - before == 1


def test_engine_setup_errors_are_raised():
    from ocr.base import OcrError

    class Broken:
        def read(self, images):
            raise OcrError("model file missing")

    with pytest.raises(OcrError, match="model file missing"):
        CropReader(Broken, batch_size=4).read([make_crop(_png(30))])


def test_crops_are_decoded_under_their_site_or_cameras_formats():
    from ocr.syntax import SyntaxReader
    from tests.ocr.test_syntax import LookAlike, decoder

    spain, us = decoder("ES"), decoder("US")
    by_site = {"madrid": spain}
    reader = CropReader(lambda: SyntaxReader(LookAlike(), us, lambda site, camera: by_site.get(site or "", us)), 8)
    crops = [make_crop(_png(40), index=0, site="madrid"), make_crop(_png(40), index=1, site="lot-7")]
    assert [r.text for r in reader.read(crops)] == ["1234BCD", "12348CD"]
