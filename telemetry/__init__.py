"""What every long-running process (edge, flow, API) reports about itself: logs and process metrics.

``telemetry.logs`` formats and routes log records (settings ``log``); ``telemetry.metrics`` adds
the process collectors, ``alpr_build_info`` and the ``/metrics`` endpoint. Imports only the
standard library, ``prometheus_client`` and ``config``.
"""
