"""Fixtures shared by the auth plugin tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.client.auth.redirects import Recorder, Redirector, serving


@pytest.fixture
def cross_host_redirect() -> Iterator[tuple[Redirector, Recorder]]:
    """A server on 127.0.0.1 that redirects to a second host, 127.0.0.2, which records what it receives."""
    recorder = Recorder("127.0.0.2")
    redirector = Redirector(recorder.url)
    with serving(recorder), serving(redirector):
        yield redirector, recorder
