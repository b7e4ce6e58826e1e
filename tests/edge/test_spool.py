"""The on-disk spool: order, commit/rewind, size limit, reopen after a restart or a torn write."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.spool import Spool


def _drain(spool: Spool) -> list[bytes]:
    out = []
    while (rec := spool.read_next()) is not None:
        out.append(rec.value)
    return out


def test_fifo_commit_and_rewind(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=64)
    for i in range(10):
        assert spool.append("t", b"k", b"v%d" % i)
    assert spool.depth == 10
    first = [spool.read_next() for _ in range(4)]
    assert [r.value for r in first] == [b"v0", b"v1", b"v2", b"v3"] and first[0].topic == "t" and first[0].key == b"k"
    spool.commit(first[1].end, 2)
    spool.rewind()
    assert _drain(spool) == [b"v%d" % i for i in range(2, 10)], "replay starts after the committed ones"
    assert spool.depth == 8


def test_full_spool_refuses_and_frees_space_on_commit(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=200, segment_bytes=50)
    accepted = [spool.append("t", b"", b"x" * 30) for _ in range(10)]
    assert accepted[:4] == [True] * 4 and not all(accepted)
    assert spool.bytes <= 200
    rec = None
    while (nxt := spool.read_next()) is not None:
        rec = nxt
    spool.commit(rec.end, spool.depth)
    assert spool.depth == 0 and spool.bytes == 0
    assert spool.append("t", b"", b"y" * 30)
    assert len(list(tmp_path.glob("*.seg"))) == 1, "delivered segments are deleted"


def test_reopen_resumes_after_the_committed_position(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=40)
    for i in range(6):
        spool.append("t", b"k", b"m%d" % i)
    recs = [spool.read_next() for _ in range(3)]
    spool.commit(recs[-1].end, 3)
    spool.close()
    again = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=40)
    assert again.depth == 3
    assert _drain(again) == [b"m3", b"m4", b"m5"]
    again.append("t", b"k", b"m6")
    assert _drain(again) == [b"m6"]


def test_torn_tail_is_cut_on_open(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append("t", b"k", b"whole")
    spool.append("t", b"k", b"torn-record")
    spool.close()
    (seg,) = tmp_path.glob("*.seg")
    seg.write_bytes(seg.read_bytes()[:-4])  # crash in the middle of the second write
    again = Spool(tmp_path, max_bytes=1 << 20)
    assert again.depth == 1 and _drain(again) == [b"whole"]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=40), st.integers(20, 400))
def test_everything_appended_comes_back_in_order(tmp_path_factory, values: list[bytes], segment: int) -> None:
    spool = Spool(tmp_path_factory.mktemp("spool"), max_bytes=1 << 22, segment_bytes=segment)
    for v in values:
        assert spool.append("topic", b"key", v)
    assert _drain(spool) == values
    spool.rewind()
    assert _drain(spool) == values
