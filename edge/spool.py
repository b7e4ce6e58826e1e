"""A bounded, ordered, on-disk message queue: the edge's outbox while the broker is away.

Every message is appended to the spool first and leaves it only when the broker acknowledged
it, so a broker outage (or a crash) loses nothing up to ``max_bytes``: messages are replayed in
the order they were appended. Beyond ``max_bytes`` new messages are refused (the caller counts
and logs the drop).

Layout: ``<dir>/<n>.seg`` segment files of records ``crc32, topic_len, key_len, value_len`` (big
endian) + the three byte strings, and ``<dir>/cursor`` holding the committed position
``segment offset``. A torn record at the tail (crash mid-write) is cut off on open.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

__all__ = ["Position", "Spool", "SpoolRecord"]

_HEAD = struct.Struct(">IHII")


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A place in the spool: segment number and byte offset within it."""

    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    """One spooled message; ``end`` is the position just after it (commit it once delivered)."""

    topic: str
    key: bytes
    value: bytes
    end: Position


def _crc(topic: bytes, key: bytes, value: bytes) -> int:
    return zlib.crc32(value, zlib.crc32(key, zlib.crc32(topic)))


class Spool:
    """Append at the tail, read from a cursor, commit what was delivered, rewind to replay."""

    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int = 16 * 1024 * 1024) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._committed = self._read_cursor()
        segments = self._segments()
        # Segments before the committed one are fully delivered.
        for n in segments:
            if n < self._committed.segment:
                (self.dir / f"{n:012d}.seg").unlink(missing_ok=True)
        segments = [n for n in segments if n >= self._committed.segment]
        if not segments:
            segments = [self._committed.segment]
            self._path(segments[0]).touch()
        if self._committed.segment < segments[0]:
            self._committed = Position(segments[0], 0)  # cursor older than the files: start at the first
        self._tail_segment = segments[-1]
        self._repair_tail()
        self._sizes = {n: self._path(n).stat().st_size for n in segments}
        self._read = self._committed
        self._writer: BinaryIO = open(self._path(self._tail_segment), "ab")  # noqa: SIM115 - kept open
        self._reader: tuple[int, BinaryIO] | None = None
        self._depth = self._count_from(self._committed)

    # -- bookkeeping -------------------------------------------------------------------------

    def _path(self, n: int) -> Path:
        return self.dir / f"{n:012d}.seg"

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.dir.glob("*.seg") if p.stem.isdigit())

    def _read_cursor(self) -> Position:
        try:
            seg, off = (self.dir / "cursor").read_text().split()
            return Position(int(seg), int(off))
        except (OSError, ValueError):
            return Position(0, 0)

    def _write_cursor(self) -> None:
        tmp = self.dir / "cursor.tmp"
        tmp.write_text(f"{self._committed.segment} {self._committed.offset}\n")
        os.replace(tmp, self.dir / "cursor")

    def _repair_tail(self) -> None:
        path = self._path(self._tail_segment)
        good = 0
        with open(path, "rb") as f:
            while True:
                head = f.read(_HEAD.size)
                if len(head) < _HEAD.size:
                    break
                crc, tl, kl, vl = _HEAD.unpack(head)
                body = f.read(tl + kl + vl)
                if len(body) < tl + kl + vl or _crc(body[:tl], body[tl : tl + kl], body[tl + kl :]) != crc:
                    break
                good = f.tell()
        if good != path.stat().st_size:
            log.warning("spool %s: cutting a torn record at byte %s", path, good)
            os.truncate(path, good)

    def _count_from(self, pos: Position) -> int:
        count = 0
        for n in sorted(self._sizes):
            if n < pos.segment:
                continue
            with open(self._path(n), "rb") as f:
                if n == pos.segment:
                    f.seek(pos.offset)
                while head := f.read(_HEAD.size):
                    _, tl, kl, vl = _HEAD.unpack(head)
                    f.seek(tl + kl + vl, os.SEEK_CUR)
                    count += 1
        return count

    # -- public API ----------------------------------------------------------------------------

    @property
    def bytes(self) -> int:
        """Bytes held (appended and not committed)."""
        with self._lock:
            return sum(self._sizes.values()) - self._committed.offset

    @property
    def depth(self) -> int:
        """Messages held (appended and not committed)."""
        return self._depth

    def append(self, topic: str, key: bytes, value: bytes) -> bool:
        """Append one message; False (nothing written) when it would exceed ``max_bytes``."""
        t = topic.encode()
        record = _HEAD.pack(_crc(t, key, value), len(t), len(key), len(value)) + t + key + value
        with self._lock:
            held = sum(self._sizes.values()) - self._committed.offset
            if held + len(record) > self.max_bytes:
                return False
            if self._sizes[self._tail_segment] >= self.segment_bytes:
                self._writer.close()
                self._tail_segment += 1
                self._sizes[self._tail_segment] = 0
                self._writer = open(self._path(self._tail_segment), "ab")  # noqa: SIM115
            self._writer.write(record)
            self._writer.flush()
            self._sizes[self._tail_segment] += len(record)
            self._depth += 1
            return True

    def read_next(self) -> SpoolRecord | None:
        """The message after the read cursor (advancing it), or None when all were read."""
        with self._lock:
            pos = self._read
            while True:
                size = self._sizes.get(pos.segment)
                if size is None:
                    return None
                if pos.offset < size:
                    break
                if pos.segment >= self._tail_segment:
                    return None
                pos = Position(pos.segment + 1, 0)
            if self._reader is None or self._reader[0] != pos.segment:
                if self._reader is not None:
                    self._reader[1].close()
                self._reader = (pos.segment, open(self._path(pos.segment), "rb"))  # noqa: SIM115
            f = self._reader[1]
            f.seek(pos.offset)
            _, tl, kl, vl = _HEAD.unpack(f.read(_HEAD.size))
            body = f.read(tl + kl + vl)
            self._read = Position(pos.segment, pos.offset + _HEAD.size + len(body))
            return SpoolRecord(body[:tl].decode(), body[tl : tl + kl], body[tl + kl :], self._read)

    def commit(self, pos: Position, count: int) -> None:
        """Mark every message up to ``pos`` (``count`` of them) delivered; frees whole segments."""
        with self._lock:
            if pos <= self._committed:
                return
            self._committed = pos
            self._depth = max(0, self._depth - count)
            for n in [n for n in self._sizes if n < pos.segment]:
                del self._sizes[n]
                if self._reader is not None and self._reader[0] == n:
                    self._reader[1].close()
                    self._reader = None
                self._path(n).unlink(missing_ok=True)
            if pos.segment == self._tail_segment and pos.offset == self._sizes[pos.segment]:
                # Everything delivered: start the tail segment afresh so the spool shrinks to zero.
                self._writer.close()
                if self._reader is not None:
                    self._reader[1].close()
                    self._reader = None
                self._path(pos.segment).unlink(missing_ok=True)
                del self._sizes[pos.segment]
                self._tail_segment += 1
                self._sizes[self._tail_segment] = 0
                self._writer = open(self._path(self._tail_segment), "ab")  # noqa: SIM115
                self._committed = self._read = Position(self._tail_segment, 0)
            self._write_cursor()

    def rewind(self) -> None:
        """Move the read cursor back to the committed position (replay what was not acknowledged)."""
        with self._lock:
            self._read = self._committed

    def close(self) -> None:
        """Close the files; the spool can be reopened later from the same directory."""
        with self._lock:
            self._writer.close()
            if self._reader is not None:
                self._reader[1].close()
                self._reader = None
            self._write_cursor()
