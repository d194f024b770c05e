"""Per-worker caching of MLflow auth user lookups.

MLflow's auth app looks the sender up on every request (``sender_is_admin`` → ``store.get_user``, a
four-statement transaction), even when the password check itself is cached. This wraps the auth store's
``get_user`` with a cache whose entries live as long as MLflow's own credential cache
(``auth_cache_ttl_seconds``), and drops a user's entry whenever this worker creates, updates or deletes
that user. So a change takes effect at once on the worker that made it, and within the TTL on the other
workers and tasks: the same staleness bound MLflow's credential cache already has. Lookups that fail
(unknown user) are never cached.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any

_MUTATIONS = ("create_user", "update_user", "delete_user")


class UserCache:
    """A TTL cache of ``get_user`` results, keyed by user name (thread-safe)."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic, max_size: int = 10_000) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._max_size = max_size
        self._entries: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, username: str, load: Callable[[str], Any]) -> Any:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(username)
            if entry is not None and entry[0] > now:
                return entry[1]
        user = load(username)  # outside the lock; raises for unknown users, which are not cached
        with self._lock:
            if len(self._entries) >= self._max_size:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= self._max_size:
                    self._entries.clear()
            self._entries[username] = (now + self.ttl_seconds, user)
        return user

    def invalidate(self, username: str) -> None:
        with self._lock:
            self._entries.pop(username, None)


def install(store: Any, ttl_seconds: int) -> UserCache | None:
    """Wrap ``store.get_user`` (and invalidate on mutations) on this store instance; None when TTL is 0."""
    if ttl_seconds <= 0:
        return None
    cache = UserCache(ttl_seconds)
    load = store.get_user

    @functools.wraps(load)
    def get_user(username: str) -> Any:
        return cache.get(username, load)

    store.get_user = get_user
    for name in _MUTATIONS:
        _invalidate_after(store, name, cache)
    return cache


def _invalidate_after(store: Any, name: str, cache: UserCache) -> None:
    mutate = getattr(store, name)

    @functools.wraps(mutate)
    def wrapper(username: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return mutate(username, *args, **kwargs)
        finally:
            cache.invalidate(username)

    setattr(store, name, wrapper)
