"""Bar charts drawn as SVG on the server: geometry here, markup in templates/chat/_chart.html.

No JavaScript library and nothing from a CDN: a chart is rectangles, lines and text
placed by this module, styled by static/chat/supervision.css. Every chart also goes out as a
table under it (for screen readers) and as CSV, from the same `Chart`.
"""

import math
from dataclasses import dataclass, field

WIDTH = 720
HEIGHT = 240
LEFT = 44  # room for the value axis
RIGHT = 12
TOP = 14
BOTTOM = 30  # room for the category labels
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | None]  # None: nothing to measure (drawn as no bar, shown as "-")
    css: str  # the bar's class, e.g. "bar--ok", styled by static/chat/supervision.css
    colors: list[str] | None = None  # a class per bar instead, e.g. on or off a target


@dataclass(frozen=True)
class Reference:
    """A horizontal line across the plot at a target or limit, with its label."""

    value: float
    label: str


@dataclass
class Chart:
    slug: str  # in the page's ids and the CSV link
    title: str
    description: str  # what the chart shows and why it matters; also the SVG's <desc>
    categories: list[str]
    series: list[Series]
    percent: bool = False  # values are shares 0-1, shown as per cent
    stacked: bool = False
    reference: Reference | None = None
    headline: str = ""  # the one number to read first
    label_every: int = 1  # label every nth category when they are many (24 hours)
    extra_columns: list[tuple[str, list[str]]] = field(default_factory=list)  # table-only rows

    def format(self, value: float | None) -> str:
        if value is None:
            return "-"
        return f"{round(100 * value)} %" if self.percent else f"{value:g}"

    def table_rows(self) -> list[tuple[str, list[str]]]:
        rows = [(series.name, [self.format(value) for value in series.values]) for series in self.series]
        return rows + self.extra_columns

    def csv_rows(self) -> list[list[str]]:
        header = ["series", *self.categories]
        return [header] + [[name, *cells] for name, cells in self.table_rows()]

    def geometry(self) -> dict:
        return _geometry(self)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _geometry(chart: Chart) -> dict:
    count = max(1, len(chart.categories))
    if chart.percent:
        top = 1.0
    elif chart.stacked:
        totals = [sum(v or 0 for s in chart.series for v in s.values[i : i + 1]) for i in range(len(chart.categories))]
        top = nice_ceiling(max(totals or [0]))
    else:
        top = nice_ceiling(max([v or 0 for s in chart.series for v in s.values] or [0]))
    if chart.reference is not None and not chart.percent:
        top = max(top, nice_ceiling(chart.reference.value))

    def y(value: float) -> float:
        return TOP + PLOT_HEIGHT - PLOT_HEIGHT * (value / top)

    slot = PLOT_WIDTH / count
    lanes = 1 if chart.stacked else len(chart.series)
    bar_width = max(2.0, slot * 0.72 / lanes)
    bars = []
    for index, category in enumerate(chart.categories):
        x0 = LEFT + slot * index + (slot - bar_width * lanes) / 2
        base = 0.0
        for lane, series in enumerate(chart.series):
            value = series.values[index]
            if value is None or value <= 0:
                continue
            low = base if chart.stacked else 0.0
            high = low + value
            bars.append(
                {
                    "x": round(x0 + (0 if chart.stacked else lane * bar_width), 1),
                    "y": round(y(high), 1),
                    "width": round(bar_width, 1),
                    "height": round(max(1.0, y(low) - y(high)), 1),
                    "css": series.colors[index] if series.colors else series.css,
                    "title": f"{category}: {series.name} {chart.format(value)}",
                }
            )
            if chart.stacked:
                base = high
    # Counts get whole-number ticks only ("2.5 chats" reads as a bug): quarters, fifths or
    # halves of the top, whichever are whole; shares get quarters.
    parts = 4
    if not chart.percent:
        parts = next((n for n in (4, 5, 2) if float(top / n).is_integer()), 1)
    ticks = [{"y": round(y(top * i / parts), 1), "label": chart.format(top * i / parts)} for i in range(parts + 1)]
    labels = [
        {"x": round(LEFT + slot * index + slot / 2, 1), "text": category}
        for index, category in enumerate(chart.categories)
        if index % chart.label_every == 0
    ]
    reference = None
    if chart.reference is not None:
        reference = {"y": round(y(chart.reference.value), 1), "label": chart.reference.label}
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "baseline": TOP + PLOT_HEIGHT,
        "label_y": HEIGHT - 10,
        "bars": bars,
        "ticks": ticks,
        "labels": labels,
        "reference": reference,
        "legend": [{"name": series.name, "css": series.css} for series in chart.series],
    }
