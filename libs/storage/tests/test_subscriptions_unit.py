from __future__ import annotations

from datetime import UTC, datetime

from eip.storage.subscriptions import Action, SubscriptionChange, effective


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
