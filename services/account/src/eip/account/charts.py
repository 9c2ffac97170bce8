"""Charts as PNG and SVG, drawn from the very data the JSON endpoints return.

matplotlib's object API with the Agg (PNG) and SVG canvases — never ``pyplot``, whose global
state is not safe across threads — run in a worker thread (``render``), so drawing never blocks
the event loop; a semaphore keeps at most two drawings at once on a small machine.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.dates import date2num
from matplotlib.figure import Figure

Format = Literal["png", "svg"]
MEDIA_TYPES: Mapping[Format, str] = {"png": "image/png", "svg": "image/svg+xml"}
_DRAWING = asyncio.Semaphore(2)


async def render(draw: Callable[[Figure], None], fmt: Format) -> bytes:
    async with _DRAWING:
        return await asyncio.to_thread(_render, draw, fmt)


def _render(draw: Callable[[Figure], None], fmt: Format) -> bytes:
    figure = Figure(figsize=(9, 4.5), dpi=100)
    draw(figure)
    figure.tight_layout()
    out = io.BytesIO()
    canvas = FigureCanvasAgg(figure) if fmt == "png" else FigureCanvasSVG(figure)
    canvas.print_figure(out, format=fmt)
    return out.getvalue()


def value_chart(history: Mapping[str, Any], title: str) -> Callable[[Figure], None]:
    points = [p for p in history["points"] if p["value"] is not None]

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        times = _nums([datetime.fromisoformat(p["time"]) for p in points])
        values = [float(Decimal(p["value"])) for p in points]  # plotting only
        ax.plot(times, values, color="#1f77b4", linewidth=1.6)
        if values:
            ax.fill_between(times, values, min(values), alpha=0.12, color="#1f77b4")
        ax.xaxis_date()
        ax.set_title(title)
        ax.set_ylabel(history["quote"])
        ax.grid(alpha=0.3)
        if not points:
            ax.text(0.5, 0.5, "no valued points", ha="center", transform=ax.transAxes)
        figure.autofmt_xdate()

    return draw


def allocation_chart(alloc: Mapping[str, Any], title: str) -> Callable[[Figure], None]:
    entries = alloc["entries"]

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        values = [float(Decimal(e["value"])) for e in entries if Decimal(e["value"]) > 0]
        labels = [e["key"] for e in entries if Decimal(e["value"]) > 0]
        if values:
            ax.pie(values, labels=labels, autopct="%1.1f%%", startangle=90, counterclock=False)
            ax.axis("equal")
        else:
            ax.text(0.5, 0.5, "nothing valued", ha="center", transform=ax.transAxes)
            ax.axis("off")
        unvalued = alloc.get("unvalued_assets") or []
        suffix = f" ({len(unvalued)} unvalued)" if unvalued else ""
        ax.set_title(f"{title}{suffix}")

    return draw


def trades_chart(
    candles: Sequence[Mapping[str, Any]], fills: Sequence[Mapping[str, Any]], title: str
) -> Callable[[Figure], None]:
    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        width = 0.0
        if len(candles) > 1:
            t0 = datetime.fromisoformat(str(candles[0]["open_time"]))
            t1 = datetime.fromisoformat(str(candles[1]["open_time"]))
            width = (t1 - t0).total_seconds() / 86_400 * 0.7
        for c in candles:
            t = _nums([datetime.fromisoformat(str(c["open_time"]))])[0]
            o, h, lo, cl = (float(Decimal(str(c[k]))) for k in ("open", "high", "low", "close"))
            colour = "#2ca02c" if cl >= o else "#d62728"
            ax.vlines(t, lo, h, color=colour, linewidth=0.8)
            ax.bar(t, cl - o or 1e-12, width or 0.0005, bottom=o, color=colour, alpha=0.8)
        for side, marker, colour in (("buy", "^", "#2ca02c"), ("sell", "v", "#d62728")):
            own = [f for f in fills if f["side"] == side]
            ax.scatter(
                _nums([datetime.fromisoformat(str(f["time"])) for f in own]),
                [float(Decimal(str(f["price"]))) for f in own],
                marker=marker,
                s=70,
                color=colour,
                edgecolors="black",
                zorder=3,
                label=f"{side} ({len(own)})",
            )
        ax.xaxis_date()
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
        if not candles and not fills:
            ax.text(0.5, 0.5, "no candles and no trades", ha="center", transform=ax.transAxes)
        figure.autofmt_xdate()

    return draw


def _nums(times: Sequence[datetime]) -> list[float]:
    """Datetimes as matplotlib's date numbers (its own typed axes take floats)."""
    return [float(x) for x in date2num(list(times))]  # type: ignore[no-untyped-call]
