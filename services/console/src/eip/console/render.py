"""The console's templates (Jinja2, autoescaped): whole pages and the fragments the live streams
push. Money arrives as the services' decimal strings and is shown as it came; only the charts
turn prices into numbers, to place them on an axis."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"
NONE = "\N{EN DASH}"  # what a table shows for a value the service does not have


def _age(ms: Any) -> str:
    if ms is None:
        return NONE
    seconds = float(ms) / 1000
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


def _clock(value: Any) -> str:
    """An ISO time or epoch seconds as HH:MM:SS UTC."""
    if value is None or value == "":
        return NONE
    if isinstance(value, int | float):
        moment = datetime.fromtimestamp(value, UTC)
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


# An order event's changes that every event carries, or that the order's row shows already.
_ROUTINE = {"state", "version", "updated_at", "created_at"}


def _changes(event: dict[str, Any]) -> str:
    """What an order event changed, for its timeline: the first event (the whole order, shown
    by its row) says nothing; the others what they set, without the routine and empty fields."""
    if int(event.get("version", 0)) <= 1:
        return ""
    changes = event.get("changes") or {}
    shown = [
        f"{key}={value}"
        for key, value in sorted(changes.items())
        if key not in _ROUTINE and value not in (None, "", [], {})
    ]
    return ", ".join(shown)


def _dash(symbol: str) -> str:
    return symbol.replace("/", "-")


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["age"] = _age
    env.filters["clock"] = _clock
    env.filters["dash"] = _dash
    env.filters["changes"] = _changes
    return env


class Renderer:
    def __init__(self) -> None:
        self.env = environment()

    def render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**context)
