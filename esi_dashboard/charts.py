"""The dashboard's pictures, drawn on the server as inline SVG: no CDN, no JavaScript.

Each function returns markup safe to put in a template. Text is escaped; colours come from
CSS classes (``esi_dashboard/dashboard.css``), which use the admin's colour variables, so
the charts follow the admin's light and dark themes.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe


@dataclasses.dataclass(frozen=True)
class Bar:
    """One bar: ``value`` (a count), ``label`` under it, and a CSS class (``kind``)."""

    label: str
    value: float
    kind: str = ""
    tooltip: str = ""


def _n(value: float) -> str:
    """A coordinate with one decimal (``format_html`` escapes its arguments to text first,
    so numbers are formatted before they are passed)."""
    return f"{value:.1f}"


def _svg(width: int, height: int, title: str, body: Sequence[str]) -> SafeString:
    return mark_safe(  # noqa: S308  (every piece of text in body went through escape/format_html)
        f'<svg class="esi-chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'preserveAspectRatio="xMidYMid meet" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value`` (at least 1)."""
    if value <= 1:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(10 * magnitude)


def histogram(bars: Sequence[Bar], title: str, width: int = 720, height: int = 220) -> SafeString:
    """Vertical bars, one per :class:`Bar`, scaled to the largest value, each with its count
    above it and its label below. An all-zero series draws empty bars."""
    top, bottom, left, right = 20, 40, 44, 10
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max((bar.value for bar in bars), default=0))
    slot = plot_w / max(1, len(bars))
    body = [
        format_html('<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"/>', left, top + plot_h, width - right, top + plot_h),
        format_html('<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>', left - 6, top + 4, f"{peak:g}"),
        format_html('<text class="tick" x="{}" y="{}" text-anchor="end">0</text>', left - 6, top + plot_h),
    ]
    for index, bar in enumerate(bars):
        h = plot_h * bar.value / peak
        x = left + index * slot + slot * 0.12
        w = slot * 0.76
        body.append(
            format_html(
                '<g class="bar {}"><title>{}</title><rect x="{}" y="{}" width="{}" height="{}"/>'
                '<text class="value" x="{}" y="{}" text-anchor="middle">{}</text>'
                '<text class="label" x="{}" y="{}" text-anchor="middle">{}</text></g>',
                bar.kind,
                bar.tooltip or f"{bar.label}: {bar.value:g}",
                _n(x),
                _n(top + plot_h - h),
                _n(w),
                _n(h),
                _n(x + w / 2),
                _n(top + plot_h - h - 4),
                f"{bar.value:g}",
                _n(x + w / 2),
                top + plot_h + 16,
                bar.label,
            )
        )
    return _svg(width, height, title, body)


def timeline(
    points: Sequence[tuple[float, int]],
    start: float,
    end: float,
    title: str,
    ceiling: int = 100,
    threshold: int | None = None,
    width: int = 720,
    height: int = 220,
) -> SafeString:
    """A step line of ``(epoch seconds, value)`` points between the epochs ``start`` and
    ``end``, on a 0-``ceiling`` scale (the error limit's window is 100 errors), with an
    optional dashed ``threshold`` line. Points more than ten minutes apart are not joined.
    Each point is also a dot with its value as a tooltip. Without points it draws the axes
    and says so."""
    top, bottom, left, right = 16, 36, 44, 10
    plot_w, plot_h = width - left - right, height - top - bottom
    span = max(1.0, end - start)

    def x(t: float) -> float:
        return left + plot_w * (min(max(t, start), end) - start) / span

    def y(v: float) -> float:
        return top + plot_h * (1 - min(max(v, 0), ceiling) / ceiling)

    body = [
        format_html('<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"/>', left, top + plot_h, width - right, top + plot_h),
        format_html('<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"/>', left, top, left, top + plot_h),
        format_html('<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>', left - 6, top + 4, ceiling),
        format_html('<text class="tick" x="{}" y="{}" text-anchor="end">0</text>', left - 6, top + plot_h),
    ]
    for tick in _time_ticks(start, end):
        if not left + 16 <= x(tick) <= width - right - 16:
            continue  # a label cut by the edge
        body.append(
            format_html(
                '<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>',
                _n(x(tick)),
                top + plot_h + 16,
                datetime.datetime.fromtimestamp(tick, tz=datetime.UTC).strftime("%H:%M"),
            )
        )
    if threshold is not None:
        body.append(
            format_html(
                '<line class="threshold" x1="{}" y1="{}" x2="{}" y2="{}"><title>threshold {}</title></line>',
                left, _n(y(threshold)), width - right, _n(y(threshold)), threshold,
            )
        )
    if not points:
        body.append(
            format_html(
                '<text class="empty" x="{}" y="{}" text-anchor="middle">{}</text>',
                left + plot_w / 2, top + plot_h / 2, "No ESI answer reported the error limit in this period",
            )
        )
    else:
        # A step line; a gap of more than ten minutes (no answer reported the limit) breaks it.
        path = []
        previous: float | None = None
        for t, value in points:
            if previous is None or t - previous > _GAP:
                path.append(f"M{x(t):.1f} {y(value):.1f}")
            else:
                path.append(f"H{x(t):.1f} V{y(value):.1f}")
            previous = t
        body.append(format_html('<path class="line" d="{}"/>', " ".join(path)))
        for t, value in points:
            when = datetime.datetime.fromtimestamp(t, tz=datetime.UTC).strftime("%H:%M UTC")
            body.append(
                format_html(
                    '<circle class="dot{}" cx="{}" cy="{}" r="2.5"><title>{}: {} errors left</title></circle>',
                    " low" if threshold is not None and value <= threshold else "",
                    _n(x(t)), _n(y(value)), when, value,
                )
            )
    return _svg(width, height, title, body)


#: Points further apart than this (seconds) are not joined: nothing was seen in between.
_GAP = 600


def _time_ticks(start: float, end: float) -> list[float]:
    """Round times (every 15 min, 30 min, 1 h or 2 h) inside ``[start, end]``, at most 8."""
    for step in (900, 1800, 3600, 7200, 14400, 43200, 86400):
        first = (start // step + 1) * step
        ticks = [first + i * step for i in range(int((end - first) // step) + 1)]
        if len(ticks) <= 8:
            return ticks
    return []


@dataclasses.dataclass(frozen=True)
class Gauge:
    """One horizontal bar: ``remaining`` of ``limit`` tokens (``None`` when unknown)."""

    label: str
    remaining: int | None
    limit: int | None
    detail: str = ""
    blocked: bool = False


def gauges(rows: Sequence[Gauge], title: str, width: int = 720) -> SafeString:
    """One horizontal bar per :class:`Gauge`: the filled share is ``remaining / limit``,
    coloured by how full it is (``ok`` over half, ``low`` over a tenth, ``empty`` below, or
    ``blocked`` by a 429). The label is on the left and ``remaining/limit`` on the right."""
    row_h, label_w, value_w = 24, 260, 120
    height = max(1, len(rows)) * row_h + 8
    bar_w = width - label_w - value_w
    body = []
    if not rows:
        body.append(
            format_html('<text class="empty" x="{}" y="18" text-anchor="middle">{}</text>', width / 2,
                        "No rate-limit group reported yet")
        )
    for index, row in enumerate(rows):
        y = 4 + index * row_h
        known = row.limit is not None and row.remaining is not None and row.limit > 0
        share = min(1.0, max(0.0, row.remaining / row.limit)) if known else 0.0  # type: ignore[operator]
        kind = "blocked" if row.blocked else "ok" if share > 0.5 else "low" if share > 0.1 else "empty"
        value = f"{row.remaining}/{row.limit}" if known else "?"
        body.append(
            format_html(
                '<g class="gauge {}"><title>{}</title>'
                '<text class="label" x="{}" y="{}" text-anchor="end">{}</text>'
                '<rect class="track" x="{}" y="{}" width="{}" height="{}"/>'
                '<rect class="fill" x="{}" y="{}" width="{}" height="{}"/>'
                '<text class="value" x="{}" y="{}">{}</text></g>',
                kind,
                row.detail or f"{row.label}: {value}",
                label_w - 8, y + 15, row.label,
                label_w, y + 3, bar_w, row_h - 8,
                label_w, y + 3, _n(bar_w * share), row_h - 8,
                label_w + bar_w + 8, y + 15, value,
            )
        )
    return _svg(width, height, title, body)
