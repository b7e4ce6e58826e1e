"""Syntax-constrained decoding: lattices built by hand, the decoder's choices, the engines' lattices."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.ocr import OcrSettings
from config.settings import Settings
from ocr.base import OcrResult
from ocr.lattice import BLANK, CHARS, MASKED, N_COLUMNS, ColumnMap, Lattice
from ocr.syntax import (
    SyntaxDecoder,
    SyntaxParams,
    SyntaxReader,
    chosen_layouts,
    load_reader,
    near,
    slots,
    string_costs,
)
from operators.plate_formats import preset_formats
from tests.ocr.test_deskew import plate


def frames(*chars: str | dict[str, float], blank: int = 1) -> np.ndarray:
    """A ``(T, 38)`` log-probability lattice: each argument is one character run of one frame
    (a character, certain, or ``{char: probability}``), with ``blank`` certain-blank frames
    around each run. ``?`` is the masked column."""
    rows: list[np.ndarray] = []

    def frame(probs: dict[str, float]) -> np.ndarray:
        p = np.full(N_COLUMNS, 1e-6, dtype=np.float64)
        for c, v in probs.items():
            p[BLANK if c == "-" else MASKED if c == "?" else CHARS.index(c) + 1] = v
        return np.log(p / p.sum()).astype(np.float32)

    for _ in range(blank):
        rows.append(frame({"-": 1.0}))
    for c in chars:
        rows.append(frame({c: 0.999} if isinstance(c, str) else c))
        for _ in range(blank):
            rows.append(frame({"-": 1.0}))
    return np.stack(rows)


def decoder(*presets: str, **params) -> SyntaxDecoder:
    return SyntaxDecoder(preset_formats(presets), SyntaxParams(**params))


def read(dec: SyntaxDecoder, *lattices: Lattice, raw: str = "") -> str:
    fit = dec.best(lattices, raw)
    assert fit is not None
    return fit.text if fit.format_name is not None else raw


def test_a_look_alike_is_read_as_the_format_wants():
    # California: digit, three letters, three digits. The first glyph looks a little more like L.
    lattice = Lattice("band", (frames({"L": 0.6, "4": 0.35}, "Y", "T", "D", "4", "8", "3"),))
    assert read(decoder("US"), lattice, raw="LYTD483") == "4YTD483"
    assert decoder("US").best([lattice], "LYTD483").format_name == "US-CA"


def test_a_british_one_and_zero_read_as_letters_are_digits():
    # The British font draws 1 and 0 like I and O: both recognisers were sure of FVIOUHP and
    # XI43CFJ (openimages crops). In the two long British formats the digits read them as 1 and 0.
    sure = Lattice("band", (frames("F", "V", "I", "O", "U", "H", "P"),), source="a")
    also = Lattice("band", (frames("F", "V", "I", "O", "U", "H", "P"),), source="b")
    assert read(decoder("EU"), sure, raw="FVIOUHP") == "FV10UHP"
    fit = decoder("US", "EU", "BR", "PK").best([sure, also], "FVIOUHP")
    assert fit is not None and (fit.text, fit.format_name) == ("FV10UHP", "GB")
    prefix = Lattice("band", (frames("X", "I", "4", "3", "C", "F", "J"),), source="a")
    assert read(decoder("US", "EU", "BR", "PK"), prefix, raw="XI43CFJ") == "X143CFJ"
    # Elsewhere a sure I stays a letter: no British letter is an I, so XI43CFJ is not British as
    # read, and a format without look-alike digits does not take it as 1 for free.
    assert decoder("EU").table.best_prior("XI43CFJ")[1] != "GB"
    pk = Lattice("band", (frames("L", "Z", "W", "9", "7", "I", "5"),), source="a")
    assert read(decoder("PK"), pk, raw="LZW97I5") == "LZW97I5"


def test_a_word_is_not_bent_into_a_short_british_format():
    # Only the long British formats read look-alikes: TIKUX would fit the short prefix format
    # T1 KUX for free otherwise (it did, on an openimages crop, in a first version).
    lattice = Lattice("band", (frames("T", "I", "K", "U", "X"),))
    assert read(decoder("US", "EU", "BR", "PK"), lattice, raw="TIKUX") == "TIKUX"


def test_a_confident_character_is_not_bent_to_a_format():
    # GR8BUNZ (a vanity plate) is one 8->B away from a British format: the 8 is certain.
    lattice = Lattice("band", (frames("G", "R", "8", "B", "U", "N", "Z"),))
    assert read(decoder("US", "EU"), lattice, raw="GR8BUNZ") == "GR8BUNZ"


def test_o_and_zero_follow_the_format():
    # Brazil (old series): three letters, four digits; the first glyph reads 0 a little more.
    lattice = Lattice("band", (frames({"0": 0.55, "O": 0.44}, "K", "M", "2", "3", "7", "1"),))
    assert read(decoder("BR"), lattice, raw="0KM2371") == "OKM2371"


def test_extra_text_around_the_plate_is_left_out():
    # A dealer's frame under a Californian plate, read into the same line in small print.
    weak = [{c: 0.55, "-": 0.45} for c in "SHARKS"]
    lattice = Lattice("detect", (frames("3", "V", "M", "T", "9", "4", "7", *weak),))
    assert read(decoder("US"), lattice, raw="3VMT947SHARKS") == "3VMT947"
    # An emblem before a French plate, read as a doubtful M.
    emblem = Lattice("band", (frames({"M": 0.6, "-": 0.4}, "R", "K", "6", "1", "2", "A", "L"),))
    assert read(decoder("FR", "IT", "ES", "DE"), emblem, raw="MRK612AL") == "RK612AL"


def test_confident_text_is_not_cut_to_fit_a_shorter_format():
    # W16627 fits no specific US format; 16627 (Delaware) would, by dropping a certain W.
    lattice = Lattice("band", (frames("W", "1", "6", "6", "2", "7"),))
    assert read(decoder("US"), lattice, raw="W16627") == "W16627"


def test_in_an_ensemble_the_extra_text_one_engine_reads_is_left_out():
    # rapidocr reads a frame's text the other engine does not see at all.
    a = Lattice("detect", (frames("3", "V", "M", "T", "9", "4", "7", "S", "H", "A", "R", "K", "S"),), source="a")
    b = Lattice("band", (frames("3", "V", "M", "T", "9", "4", "7"),), source="b")
    assert read(decoder("US"), a, b, raw="3VMT947SHARKS") == "3VMT947"


def test_a_read_that_fits_no_format_keeps_its_text_and_has_no_format():
    lattice = Lattice("band", (frames("Q", "Q", "Q", "Q", "Q", "Q", "Q", "Q", "Q"),))
    dec = decoder("ES")
    fit = dec.best([lattice], "QQQQQQQQQ")
    assert fit is not None and fit.format_name is None and fit.text == "QQQQQQQQQ"
    result = OcrResult("QQQQQQQQQ", 0.99, (0.99,) * 9, (lattice,))
    assert dec.decode(result) == result


def test_a_read_that_fits_is_kept():
    lattice = Lattice("band", (frames("1", "2", "3", "4", "B", "C", "D"),))
    assert read(decoder("ES"), lattice, raw="1234BCD") == "1234BCD"


def test_two_rows_are_read_as_one_plate():
    top = frames("1", "2", "3", "4")
    bottom = frames({"B": 0.5, "8": 0.49}, "C", "D")
    lattice = Lattice("split", (top, bottom))
    assert lattice.frames().shape[0] == top.shape[0] + 1 + bottom.shape[0]
    assert read(decoder("ES"), lattice, raw="12348CD") == "1234BCD"


def test_a_read_with_masked_characters_is_kept_as_read():
    # plate_rec marks privacy-greyed (or hidden) characters: such a plate cannot be fitted.
    lattice = Lattice("band", (frames("1", "2", "?", "4", "?", "C", "D"),), source="plate_rec")
    dec = decoder("ES", "US")
    fit = dec.best([lattice], "124CD")
    assert fit is not None and fit.format_name is None and fit.text == "124CD"
    assert dec.decode(OcrResult("124CD", 0.9, (0.9,) * 5, (lattice,))).text == "124CD"


def test_wildcards_stand_for_any_character_or_none():
    s = slots(frames("1", "2", "X", "4"))
    costs = string_costs(s, ["12?4", "124", "12?X4", "12Y4"], (6.0, 3.3))
    assert costs[0] == pytest.approx(0.0, abs=1e-3)  # ? read as X
    assert costs[1] > costs[0] and costs[3] > costs[0]
    assert costs[2] == pytest.approx(0.0, abs=1e-3)  # ? read as nothing


def test_only_the_chosen_layout_of_an_engine_counts():
    band = Lattice("band", (frames("1", "2", "3", "4", "B", "C", "D"),), source="a", chosen=True)
    split = Lattice("split", (frames("1", "2"), frames("Z", "Z")), source="a")
    other = Lattice("band", (frames("1", "2"),), source="b")
    assert chosen_layouts([band, split, other]) == [band, other]


def test_engines_are_weighed_together():
    # One engine is unsure between B and 8, the other sees the B clearly: B wins, and the
    # result keeps the raw read's confidences.
    a = Lattice("band", (frames("1", "2", "3", "4", {"8": 0.5, "B": 0.49}, "C", "D"),), source="a")
    b = Lattice("band", (frames("1", "2", "3", "4", "B", "C", "D"),), source="b")
    dec = decoder("ES", "US")
    assert read(dec, a, b, raw="12348CD") == "1234BCD"
    decoded = dec.decode(OcrResult("12348CD", 0.8, (0.8,) * 7, (a, b)))
    assert decoded.text == "1234BCD" and decoded.confidence == 0.8


def test_results_without_lattices_pass_through():
    class Plain:
        def read(self, images):
            return [OcrResult("ABC123", 0.9, (0.9,) * 6) for _ in images]

    reader = SyntaxReader(Plain(), decoder("US"))
    assert reader.read([np.zeros((20, 60, 3), np.uint8)]) == [OcrResult("ABC123", 0.9, (0.9,) * 6)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(CHARS), min_size=1, max_size=9))
def test_the_greedy_read_costs_nothing(chars):
    s = slots(frames(*chars))
    assert float(string_costs(s, ["".join(chars)], (6.0, 0.5))[0]) == pytest.approx(0.0, abs=1e-3)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(CHARS), min_size=1, max_size=8), st.sampled_from(CHARS))
def test_another_string_costs_more(chars, other):
    s = slots(frames(*chars))
    costs = string_costs(s, ["".join(chars), "".join(chars) + other], (6.0, 0.5))
    assert costs[1] > costs[0]


def test_column_map_folds_case_and_puts_the_rest_in_blank():
    columns = ColumnMap(["", "a", "A", "1", "-", "é", "?"])
    probs = np.array([[0.1, 0.2, 0.3, 0.1, 0.1, 0.1, 0.1]], dtype=np.float32)
    out = np.exp(columns(probs))[0]
    assert out[CHARS.index("A") + 1] == pytest.approx(0.5)
    assert out[CHARS.index("1") + 1] == pytest.approx(0.1)
    assert out[MASKED] == pytest.approx(0.1)
    assert out[BLANK] == pytest.approx(0.3)  # blank, '-' and 'é'


def test_lattice_rejects_a_bad_shape():
    with pytest.raises(ValueError, match="Lattice.lines"):
        Lattice("band", (np.zeros((4, 5), np.float32),))


def test_the_default_reader_decodes_and_can_be_turned_off():
    settings = Settings(ocr=OcrSettings(type="plate_rec", threads=1))
    reader = load_reader(settings)
    assert isinstance(reader, SyntaxReader)
    result = reader.read([plate("7ABC 123")])[0]
    assert result.text == "7ABC123"
    assert result.lattices and all(line.shape[1] == N_COLUMNS for lat in result.lattices for line in lat.lines)
    off = Settings(ocr=OcrSettings(type="plate_rec", threads=1, syntax={"enabled": False}))
    assert not isinstance(load_reader(off), SyntaxReader)


def test_every_preset_compiles_for_decoding():
    dec = SyntaxDecoder(preset_formats(["ALL"]))
    assert len(dec.table) > 100
    assert dec.table.best_prior("7ABC123")[1] is not None


def test_a_decoded_read_corrects_the_raw_read_and_never_replaces_it():
    # One engine reads the plate, the other something else entirely (a close-up cut through).
    a = Lattice("band", (frames("L", "Z", "W", "9", "7", "1", "5"),), source="a")
    b = Lattice("band", (frames("H", "7"),), source="b")
    fit = decoder("US", "PK").best([a, b], "LZW9715")
    assert fit is not None and fit.text == "LZW9715"
    assert near("4YTD483", "LYTD483", 2) and near("RK612AL", "MRK612AL", 2) and not near("H7", "LZW9715", 2)


def test_the_decoder_defaults_are_the_settings_defaults():
    from config.ocr import SyntaxSettings

    weights = SyntaxSettings().model_dump(exclude={"enabled", "member_scales"})
    assert SyntaxParams(**weights) == SyntaxParams()


class LookAlike:
    """An engine that reads every crop as ``12348CD``, the fifth glyph an 8 or (a little less likely) a B."""

    def read(self, images):
        look = {"8": 0.6, "B": 0.39}
        a = Lattice("band", (frames("1", "2", "3", "4", look, "C", "D"),), source="a")
        b = Lattice("band", (frames("1", "2", "3", "4", look, "C", "D"),), source="b")
        return [OcrResult("12348CD", 0.8, (0.8,) * 7, (a, b)) for _ in images]


def test_read_at_decodes_each_crop_under_its_site_or_cameras_formats():
    spain, us = decoder("ES"), decoder("US")
    scopes = {"madrid": spain, "lot-7": us}
    reader = SyntaxReader(LookAlike(), us, lambda site, camera: scopes.get(camera or "", scopes.get(site or "", us)))
    crop = np.zeros((20, 60, 3), np.uint8)
    texts = [r.text for r in reader.read_at([crop] * 3, [("madrid", "c1"), ("lot-7", "c2"), ("lot-7", "madrid")])]
    assert texts == ["1234BCD", "12348CD", "1234BCD"]  # Spanish where Spain's formats apply, else as read
    assert [r.text for r in reader.read([crop])] == ["12348CD"]  # no scope: the default decoder
    with pytest.raises(ValueError, match="1 scopes for 2 crops"):
        reader.read_at([crop, crop], [("madrid", "c1")])


def test_load_reader_builds_the_decoders_of_the_sites_and_cameras(monkeypatch):
    import ocr.registry

    monkeypatch.setattr(ocr.registry, "load_engine", lambda settings: LookAlike())
    crop = np.zeros((20, 60, 3), np.uint8)
    plates = {"presets": ["US"], "sites": {"madrid": {"presets": ["ES"]}}, "cameras": {"gate-3": {"presets": ["US"]}}}
    reader = load_reader(Settings(flow={"plates": plates}))
    assert isinstance(reader, SyntaxReader)
    scopes = [("madrid", "c1"), ("lot-7", "c2"), ("madrid", "gate-3")]
    assert [r.text for r in reader.read_at([crop] * 3, scopes)] == ["1234BCD", "12348CD", "12348CD"]
    uniform = load_reader(Settings(flow={"plates": {"presets": ["ES"]}}))
    assert [r.text for r in uniform.read_at([crop], [("madrid", "c1")])] == ["1234BCD"]  # type: ignore[attr-defined]
