"""Flow tests share per-process watchlist pollers (flows.watchlists.shared_store): stop them
after each module, before the session's test database is dropped."""

import pytest

from flows.watchlists import close_shared


@pytest.fixture(scope="module", autouse=True)
def _stop_shared_watchlist_pollers():
    yield
    close_shared()
