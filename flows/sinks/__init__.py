"""Sinks of the plates dataflow: PostgreSQL (:mod:`.postgres`), S3 crops (:mod:`.s3`), alerts
(:mod:`.alerts`, the outbox of :mod:`alerts`), Kafka topics (:mod:`.kafka`), dead letters
(:mod:`.dead_letters`) and the latency wrapper (:mod:`.timed`).

Each module holds a plain class that does the I/O (tested directly against the real services)
and a thin Bytewax ``DynamicSink`` around it. Every write is idempotent, because Bytewax
recovery replays the items after the last snapshot (at-least-once).
"""
