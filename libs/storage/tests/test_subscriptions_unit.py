from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from eip.storage.subscriptions import (
    Action,
    SubscriptionChange,
    effective,
    restore_or_fall_back,
)


def change(key: str, action: Action) -> SubscriptionChange:
    return SubscriptionChange(key, {"key": key}, action, None, datetime.now(UTC))


def test_effective_is_config_plus_added_minus_removed_with_the_change_behind_each() -> None:
    added, readded = change("b", "add"), change("c", "add")
    out = effective(
        ["a", "c", "d"],
        {"b": added, "c": readded, "d": change("d", "remove"), "e": change("e", "remove")},
    )
    assert out == {"a": None, "b": added, "c": readded}


def test_no_changes_leave_the_configured_set() -> None:
    assert effective(["a"], {}) == {"a": None}


async def test_a_restore_that_fails_leaves_the_configured_set_running() -> None:
    restored, lock = asyncio.Event(), asyncio.Lock()
    applied: list[str] = []

    async def restore() -> None:
        raise ValueError("a stored row no version understands")

    async def configured_only() -> None:
        applied.append("configured")

    await restore_or_fall_back(restore, configured_only, restored, lock, 5.0, "test")
    assert applied == ["configured"]
    assert not restored.is_set()  # runtime changes stay refused: the stored ones were not applied


async def test_a_slow_restore_runs_the_configured_set_meanwhile_then_its_own() -> None:
    restored, lock = asyncio.Event(), asyncio.Lock()
    applied: list[str] = []
    release = asyncio.Event()

    async def restore() -> None:
        await release.wait()
        async with lock:
            applied.append("effective")
            restored.set()

    async def configured_only() -> None:
        applied.append("configured")
        release.set()

    await restore_or_fall_back(restore, configured_only, restored, lock, 0.05, "test")
    assert applied == ["configured", "effective"]
    assert restored.is_set()
