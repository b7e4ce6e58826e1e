"""The OCR step reads each crop of a track once: the final read reuses the provisional one's reads."""

from __future__ import annotations

from datetime import timedelta

import pytest

from config.settings import Settings
from flows.steps.best_shot import ClosedTrack
from flows.steps.ocr import CropReader, OcrStep
from ocr.registry import load_engine
from operators.best_shot import TrackBuffer, add
from operators.records import PlateCrop
from tests.flows.crops import T0, labelled_crops, make_crop


class CountingReader(CropReader):
    """The real reader (real engine), recording which crops it was asked to read."""

    def __init__(self) -> None:
        super().__init__(lambda: load_engine(Settings().ocr), batch_size=8)
        self.asked: list[str] = []

    def read(self, crops):  # type: ignore[override]
        self.asked.extend(c.crop_id for c in crops)
        return super().read(crops)


@pytest.fixture(scope="module")
def shared_reader() -> CountingReader:
    return CountingReader()


@pytest.fixture
def reader(shared_reader) -> CountingReader:
    shared_reader.asked = []
    return shared_reader


def track(qualities: list[float], name: str = "t1") -> list[PlateCrop]:
    jpeg = labelled_crops()[0].jpeg
    return [
        make_crop(jpeg, track=name, index=i, at=T0 + timedelta(seconds=0.1 * i), quality=q)
        for i, q in enumerate(qualities)
    ]


def buffer(crops: list[PlateCrop], keep: int = 3) -> TrackBuffer:
    b = None
    for c in crops:
        b = add(b, c, keep=keep)
    assert b is not None
    return b


def test_final_read_reuses_the_provisional_reads_of_its_kept_crops(reader):
    step = OcrStep(reader)
    crops = track([0.9, 0.5, 0.95, 0.2, 0.6])
    early = buffer(crops[:2])
    ((_, first),) = step([("cam-1:t1", ClosedTrack(early, provisional=True))])
    assert reader.asked == [c.crop_id for c in early.crops]
    final = buffer(crops)  # keeps 0.95, 0.9, 0.6: two of them were read already
    ((_, last),) = step([("cam-1:t1", ClosedTrack(final))])
    assert reader.asked[2:] == [crops[2].crop_id, crops[4].crop_id]
    assert [r.crop_id for r in last.reads] == [c.crop_id for c in final.crops]
    by_id = {r.crop_id: r for r in first.reads}
    assert last.reads[1] is by_id[crops[0].crop_id]  # the same read, not read again
    # The same reads as without the cache.
    assert last.reads == OcrStep(reader, cache_size=0)([("k", ClosedTrack(final))])[0][1].reads
    assert step._cache == {}  # the final read took its track out


def test_cache_is_bounded_and_a_final_in_the_same_batch_keeps_nothing(reader):
    step = OcrStep(reader, cache_size=2)
    for name in ("a", "b", "c"):
        step([(f"cam-1:{name}", ClosedTrack(buffer(track([0.5], name)), provisional=True))])
    assert list(step._cache) == ["cam-1:b", "cam-1:c"]  # oldest dropped first
    crops = track([0.5, 0.7], "d")
    step([("cam-1:d", ClosedTrack(buffer(crops[:1]), provisional=True)), ("cam-1:d", ClosedTrack(buffer(crops)))])
    assert "cam-1:d" not in step._cache
