"""``python -m alpr.probe [URL ...]``: exit 0 when every URL answers 2xx, else 1 (container healthchecks).

The image has no curl or wget; this needs only the standard library and starts in ~50 ms. Without
a URL it probes ``$ALPR_HEALTHCHECK_URL`` (default: the API's readiness, ``/ready`` on port 18000).
Examples: ``python -m alpr.probe http://127.0.0.1:19102/metrics`` (the flow is up and serving).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:18000/ready"
TIMEOUT_S = 5.0


def probe(url: str, timeout_s: float = TIMEOUT_S) -> str | None:
    """None when ``url`` answered 2xx, else what went wrong."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - http(s) URLs we configure
            if 200 <= response.status < 300:
                return None
            return f"{url}: HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"{url}: HTTP {exc.code} {exc.read(300).decode(errors='replace').strip()}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"{url}: {getattr(exc, 'reason', exc)}"


def main(argv: list[str]) -> int:
    """Probe each URL of ``argv`` (or ``$ALPR_HEALTHCHECK_URL``); print failures to stderr."""
    urls = argv or [os.environ.get("ALPR_HEALTHCHECK_URL", DEFAULT_URL)]
    failures = [f for f in (probe(u) for u in urls) if f]
    for failure in failures:
        print(f"unhealthy: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
