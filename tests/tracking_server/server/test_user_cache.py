"""Unit tests of the per-worker user cache wrapped around MLflow's auth store."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from mlflow_sagemaker_constructs.tracking_server.server import user_cache
from mlflow_sagemaker_constructs.tracking_server.server.user_cache import UserCache


@dataclass(frozen=True)
class User:
    username: str
    is_admin: bool


class FakeStore:
    """The part of MLflow's auth SqlAlchemyStore the cache wraps; counts database lookups."""

    def __init__(self) -> None:
        self.users = {"admin": User("admin", True), "bob": User("bob", False)}
        self.lookups = 0

    def get_user(self, username: str) -> User:
        self.lookups += 1
        if username not in self.users:
            raise LookupError(f"User with username={username} not found")
        return self.users[username]

    def create_user(self, username: str, password: str, is_admin: bool = False) -> User:
        self.users[username] = User(username, is_admin)
        return self.users[username]

    def update_user(self, username: str, password: str | None = None, is_admin: bool | None = None) -> None:
        if is_admin is not None:
            self.users[username] = replace(self.users[username], is_admin=is_admin)

    def delete_user(self, username: str) -> None:
        del self.users[username]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lookups_are_served_from_the_cache_within_the_ttl() -> None:
    store = FakeStore()
    user_cache.install(store, ttl_seconds=60)
    for _ in range(50):
        assert store.get_user("bob").username == "bob"
    assert store.lookups == 1


def test_a_change_made_on_this_worker_is_seen_at_once() -> None:
    store = FakeStore()
    user_cache.install(store, ttl_seconds=60)
    assert store.get_user("admin").is_admin
    store.update_user("admin", is_admin=False)
    assert not store.get_user("admin").is_admin
    store.delete_user("bob")
    with pytest.raises(LookupError):
        store.get_user("bob")


def test_a_change_made_elsewhere_is_seen_after_the_ttl() -> None:
    clock = Clock()
    cache = UserCache(ttl_seconds=60, clock=clock)
    users = {"admin": User("admin", True)}
    assert cache.get("admin", users.__getitem__).is_admin
    users["admin"] = User("admin", False)  # another worker revoked admin rights
    clock.now += 59
    assert cache.get("admin", users.__getitem__).is_admin  # stale, within the bound
    clock.now += 2
    assert not cache.get("admin", users.__getitem__).is_admin


def test_unknown_users_are_not_cached() -> None:
    store = FakeStore()
    user_cache.install(store, ttl_seconds=60)
    for _ in range(3):
        with pytest.raises(LookupError):
            store.get_user("carol")
    assert store.lookups == 3
    store.create_user("carol", "x")
    assert store.get_user("carol").username == "carol"


def test_a_zero_ttl_leaves_the_store_alone() -> None:
    store = FakeStore()
    original = store.get_user
    assert user_cache.install(store, ttl_seconds=0) is None
    assert store.get_user == original


def test_the_cache_stays_bounded() -> None:
    clock = Clock()
    cache = UserCache(ttl_seconds=60, clock=clock, max_size=3)
    for i in range(10):
        cache.get(f"user{i}", lambda name: User(name, False))
    assert len(cache._entries) <= 3
