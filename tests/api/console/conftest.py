"""Fixtures of the console tests: a signed-in HTTP client per role (the browser tests add a browser)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import Keys


def sign_in(base_url: str, token: str) -> httpx.Client:
    """An httpx client holding a console session of ``token`` (the CSRF token in ``client.csrf``)."""
    client = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)
    form = client.get("/console/login")
    login_csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    answer = client.post("/console/login", data={"api_key": token, "csrf": login_csrf, "next": "/console/live"})
    assert answer.status_code == 303, answer.text
    page = client.get("/console/live")
    client.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[attr-defined,union-attr]
    return client


@pytest.fixture(scope="session")
def console_admin(api_url: str, keys: Keys) -> Iterator[httpx.Client]:
    """A console session of the admin key."""
    client = sign_in(api_url, keys.admin)
    yield client
    client.close()


@pytest.fixture(scope="session")
def console_reader(api_url: str, keys: Keys) -> Iterator[httpx.Client]:
    """A console session of the read key."""
    client = sign_in(api_url, keys.read)
    yield client
    client.close()
