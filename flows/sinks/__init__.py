"""Sinks of the plates dataflow: PostgreSQL (:mod:`.postgres`), S3 (:mod:`.s3`), alerts (:mod:`.alerts`).

Each module holds a plain class that does the I/O (tested directly against the real services)
and a thin Bytewax ``DynamicSink`` around it. Every write is idempotent, because Bytewax
recovery replays the items after the last snapshot (at-least-once).
"""
