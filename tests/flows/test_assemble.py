"""Assembling the flow's steps: a reader given by the caller keeps the confusion fixes unless its
reads are decoded under the plate formats, as the production reader's are."""

from __future__ import annotations

import pytest

from config.settings import Settings
from flows.assemble import FlowSteps
from flows.steps.ocr import CropReader
from flows.steps.store_crop import events_without_crops
from operators.records import PlateRead
from operators.watchlist import Watchlist
from tests.operators.test_validate import make_track_read


class Unused:
    def read(self, images):
        raise AssertionError("no crop is read here")


@pytest.mark.parametrize(("reads_decoded", "plate"), [(None, "BO12ABC"), (False, "BO12ABC"), (True, "8012ABC")])
def test_a_given_reader_says_whether_its_reads_are_decoded(reads_decoded, plate):
    steps = FlowSteps.from_settings(
        Settings(),
        decode=lambda batch: [],
        store_crops=events_without_crops,
        watchlist=lambda: Watchlist([]),
        reader=CropReader(Unused, 8),
        reads_decoded=reads_decoded,
    )
    # A raw engine's 8O12ABC fits no format, and the confusion fixes make it BO12ABC (8 -> B);
    # a decoded read already is the decoder's choice, so the validator leaves its characters.
    out = steps.vote._validate(make_track_read("8O12ABC"))
    assert isinstance(out, PlateRead) and out.plate == plate
