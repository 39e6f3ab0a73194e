"""Charts drawn on the server as SVG: no JavaScript, no external library, printable.

Every chart has ``role="img"``, a ``<title>`` and a text description, and each bar a
``<title>`` with its figure; the page shows the same numbers in a table beside it. Labels
are escaped here (they can be patients' words).
"""

from __future__ import annotations

from html import escape

PRIMARY = "#1f6f5c"
SECONDARY = "#c9a227"
INK = "#1d2b27"
GRID = "#d5dedb"


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _nice_max(value: int) -> int:
    """A round top for the axis, divisible into 4 whole steps (4, 8, 20, 40, 100, ...)."""
    step = 1
    while step * 4 < value:
        for factor in (2, 5 / 2, 2):  # 1, 2, 5, 10, 20, 50, ...
            step = int(step * factor)
            if step * 4 >= value:
                break
    return step * 4


def daily_bars(title: str, labels: list[str], series: list[tuple[str, list[int]]],
               width: int = 760, height: int = 260) -> str:
    """Grouped vertical bars, one group per day, one colour per series, with a legend."""
    colours = [PRIMARY, SECONDARY]
    left, right, top, bottom = 44, 10, 28, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max([max(values, default=0) for _, values in series] or [0]))
    n = max(len(labels), 1)
    group_w = plot_w / n
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1.0)
    total = ", ".join(f"{name}: {sum(values)}" for name, values in series)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-labelledby="t-{id(labels)}" class="chart">',
             f'<title id="t-{id(labels)}">{escape(title)} ({escape(total)})</title>']
    for i in range(5):
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{_num(y)}" y2="{_num(y)}" '
                     f'stroke="{GRID}" stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{_num(y + 4)}" text-anchor="end" font-size="11" '
                     f'fill="{INK}">{int(value)}</text>')
    label_every = max(1, n // 10)
    for index, label in enumerate(labels):
        x0 = left + group_w * index + group_w * 0.1
        for s, (name, values) in enumerate(series):
            value = values[index] if index < len(values) else 0
            bar_h = plot_h * value / top_value if top_value else 0
            x = x0 + bar_w * s
            y = top + plot_h - bar_h
            parts.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(bar_w)}" '
                         f'height="{_num(bar_h)}" fill="{colours[s % 2]}">'
                         f'<title>{escape(label)}: {value} {escape(name.lower())}</title></rect>')
        if index % label_every == 0:
            cx = left + group_w * index + group_w / 2
            parts.append(f'<text x="{_num(cx)}" y="{height - bottom + 16}" text-anchor="middle" '
                         f'font-size="11" fill="{INK}">{escape(label)}</text>')
    for s, (name, _) in enumerate(series):
        x = left + s * 160
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colours[s % 2]}"/>')
        parts.append(f'<text x="{x + 18}" y="16" font-size="12" fill="{INK}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def horizontal_bars(title: str, rows: list[tuple[str, int]], width: int = 560,
                    bar_h: int = 22) -> str:
    """One labelled horizontal bar per row (funnel, question counts)."""
    label_w, value_w, gap = 190, 50, 6
    height = max(len(rows), 1) * (bar_h + gap) + gap
    top_value = max([v for _, v in rows] or [0]) or 1
    plot_w = width - label_w - value_w
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" class="chart narrow"><title>{escape(title)}</title>']
    for index, (label, value) in enumerate(rows):
        y = gap + index * (bar_h + gap)
        w = plot_w * value / top_value
        short = label if len(label) <= 28 else label[:27] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + bar_h * 0.7:.1f}" text-anchor="end" '
                     f'font-size="12" fill="{INK}">{escape(short)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{_num(max(w, 1))}" height="{bar_h}" '
                     f'fill="{PRIMARY}"><title>{escape(label)}: {value}</title></rect>')
        parts.append(f'<text x="{_num(label_w + max(w, 1) + 6)}" y="{y + bar_h * 0.7:.1f}" '
                     f'font-size="12" fill="{INK}">{value}</text>')
    parts.append("</svg>")
    return "".join(parts)
