"""Alert delivery: every channel (webhook, Slack, apprise ones), once per alert and channel.

The database is the delivery queue, so nothing is lost or sent twice across restarts:

1. :class:`flows.sinks.alerts.AlertSink` (the flow's ``op.output``) stores each :class:`WatchlistHit` as an
   ``alerts`` row plus one ``alert_deliveries`` row per channel, ``pending`` (insert-or-ignore on
   the deterministic ``alert_id``, so a replayed hit adds nothing), then wakes the dispatcher.
   The dataflow thread only does that one short transaction.
2. :class:`alerts.outbox.AlertDispatcher` (one per process, background threads) polls the pending rows that
   are due (the backoff runs from ``updated_at``, the time of the last attempt, in database
   time) and hands them to a bounded pool of sender threads.
3. A sender claims the row with ``SELECT ... FOR UPDATE SKIP LOCKED``, re-checks that it is
   still pending, sends one attempt and records the outcome in the same transaction:
   ``delivered``; ``pending`` with ``attempts + 1`` and ``last_error`` (retried after the
   backoff); or ``failed`` once the attempts or the retry time are used up, or the error is
   permanent (a 4xx other than 408/425/429) — then a :class:`DeadLetter` goes to the callback.

Two dispatchers (workers, processes, a restart) never send one delivery at the same time,
and a delivered row is never sent again. The only window for a duplicate is a crash between
the receiver's answer and the commit, so every request carries ``X-ALPR-Alert-Id`` (and
``Idempotency-Key``) for receivers that de-duplicate.

The package: :mod:`alerts.messages` (what is sent: pure message building and signing),
:mod:`alerts.channels` (one module per channel type behind one ``send``), :mod:`alerts.outbox`
(the delivery worker), :mod:`alerts.corrections` (alerts of operator corrections); the SQL is
:mod:`db.alerts`.

Webhook requests are signed: ``X-ALPR-Timestamp: <unix seconds>`` and
``X-ALPR-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body>`` with the channel secret.
A receiver recomputes the HMAC over the raw body and refuses stale timestamps (replays).

Channels are configured under ``flow.alerts``; watchlists name them in ``watchlists.channels``::

    flow:
      alerts:
        channels:
          - {name: ops-hook, type: webhook, url: "https://hooks.example.org/alpr", secret: "..."}
          - {name: ops-slack, type: slack, url: "https://hooks.slack.com/services/T/B/X"}
        default_channels: [ops-slack]   # for watchlists that name none
        max_retry_s: 180                # covers a receiver outage of a minute or two
"""
