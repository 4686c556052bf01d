"""Charts and maps of the online usage rate as SVG markup rendered on the server.

Every function here is pure: it takes plain values and returns an SVG element (a
``SafeString`` to put inline in a template), with every piece of text escaped. Nothing needs
JavaScript. Each SVG is ``role="img"`` with a ``<title>`` and a ``<desc>``; the page puts the
data table beside it as the accessible equivalent. Meaning is never carried by colour alone:
the rate classes are a light-to-dark ramp with a labelled legend, the dot map also sizes its
dots by class, and "no data" is hatched (choropleth) or a hollow ring (dots), with its own
legend entry.

Sources of the geometry
    Prefectures: the polygons shipped by the ``japanmap`` package (Apache-2.0, offline JSON in
    longitude/latitude). Its polygons are each prefecture's main area (the one with the
    prefectural office): remote islands (伊豆・小笠原諸島, 奄美 …) are not drawn, and
    Hokkaidō and Okinawa are moved into insets as the package lays them out.
    Municipalities: municipal boundary data that may be shipped offline is not available from
    the package registries (the national boundary data comes with terms of its own and is
    not packaged), so a prefecture's municipalities are a dot map placed at the coordinates
    of the organisation master (``japancode``; every municipality has them), on the
    prefecture's outline from ``japanmap``, in an equirectangular projection fitted to the
    prefecture. Municipalities outside the drawn area (remote islands) or without
    coordinates are returned so that the page lists them under the map.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from html import escape

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

__all__ = [
    "RATE_BANDS",
    "Bar",
    "DotMap",
    "MapArea",
    "Place",
    "RateBand",
    "bar_chart",
    "municipality_dot_map",
    "prefecture_choropleth",
    "rate_band",
]

_XMLNS = "http://www.w3.org/2000/svg"
#: Equirectangular projection: one degree of longitude is cos(φ) of a degree of latitude;
#: Japan's middle (about 36°N) for the national map, the prefecture's own middle for its map.
_NATIONAL_PARALLEL = 36.0

_TEXT = "#1a1a1a"
_SUB = "#4d4d4d"
_OUTLINE = "#666666"
_NO_DATA_STROKE = "#4d4d4d"
#: Dots are outlined dark, so that the lightest class still shows on the pale outline.
_DOT_STROKE = "#1a1a1a"


@dataclass(frozen=True)
class RateBand:
    """A class of the online usage rate, ``lower`` ≤ rate < ``upper`` (percent)."""

    code: str
    lower: Decimal
    upper: Decimal | None
    fill: str
    #: Text colour readable on ``fill`` (4.5:1 or more).
    ink: str
    #: Radius of a dot of this class on the dot map (bigger = higher: size repeats colour).
    radius: float

    @property
    def label(self) -> str:
        if self.upper is None:
            return gettext("%(lower)s%%以上") % {"lower": self.lower}
        if self.lower == 0:
            return gettext("%(upper)s%%未満") % {"upper": self.upper}
        return gettext("%(lower)s〜%(upper)s%%未満") % {"lower": self.lower, "upper": self.upper}


#: Five fixed classes of 20 points, so that maps of different years compare; colours are the
#: デジタル庁デザインシステム blue ramp (blue-100 … blue-1100), light = low.
RATE_BANDS: tuple[RateBand, ...] = (
    RateBand("r0", Decimal(0), Decimal(20), "#d9e6ff", _TEXT, 4.0),
    RateBand("r20", Decimal(20), Decimal(40), "#9db7f9", _TEXT, 5.5),
    RateBand("r40", Decimal(40), Decimal(60), "#4979f5", "#ffffff", 7.0),
    RateBand("r60", Decimal(60), Decimal(80), "#0031d8", "#ffffff", 8.5),
    RateBand("r80", Decimal(80), None, "#000071", "#ffffff", 10.0),
)


def rate_band(rate: Decimal | None) -> RateBand | None:
    """The class a rate (percent) falls in; None for no data."""
    if rate is None:
        return None
    for band in reversed(RATE_BANDS):
        if rate >= band.lower:
            return band
    return RATE_BANDS[0]


def no_data_label() -> str:
    return gettext("データなし")


# --- Markup helpers -------------------------------------------------------------------------


def _e(text: object) -> str:
    """Text and attribute values, escaped (quotes too)."""
    return escape(str(text), quote=True)


def _n(value: float) -> str:
    """A coordinate, short: two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text_width(text: str, size: float) -> float:
    """An upper estimate of the width of a text: full-width characters one em, others 0.62."""
    return sum(size if unicodedata.east_asian_width(c) in "WF" else size * 0.62 for c in text)


def _open(*, ident: str, width: float, height: float, title: str, desc: str, css: str) -> str:
    return (
        f'<svg xmlns="{_XMLNS}" class="{_e(css)}" viewBox="0 0 {_n(width)} {_n(height)}" '
        f'role="img" aria-labelledby="{_e(ident)}-title {_e(ident)}-desc" '
        f'font-family="inherit" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{_e(ident)}-title">{_e(title)}</title>'
        f'<desc id="{_e(ident)}-desc">{_e(desc)}</desc>'
    )


def _hatch(ident: str) -> str:
    return (
        f'<pattern id="{_e(ident)}-hatch" patternUnits="userSpaceOnUse" width="6" height="6" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{_NO_DATA_STROKE}" stroke-width="2"/>'
        f"</pattern>"
    )


def _legend(
    *,
    ident: str,
    x: float,
    y: float,
    heading: str,
    dots: bool = False,
    no_data: bool = True,
    size: float = 13,
) -> str:
    """The legend of the rate classes: a swatch (or dot) and its label per class."""
    parts = [f'<g class="chart-legend" transform="translate({_n(x)} {_n(y)})">']
    parts.append(f'<text x="0" y="0" font-size="{_n(size)}" font-weight="bold" fill="{_TEXT}">')
    parts.append(f"{_e(heading)}</text>")
    row = size + 7
    entries: list[tuple[RateBand | None, str]] = [
        (band, band.label) for band in reversed(RATE_BANDS)
    ]
    if no_data:
        entries.append((None, no_data_label()))
    for index, (band, label) in enumerate(entries):
        top = 8 + index * row + (size - 13) / 2
        if dots:
            radius = band.radius if band else RATE_BANDS[0].radius
            fill = band.fill if band else "#ffffff"
            parts.append(
                f'<circle cx="10" cy="{_n(top + 8)}" r="{_n(radius)}" fill="{fill}" '
                f'stroke="{_DOT_STROKE}" stroke-width="{1 if band else 2}"/>'
            )
        else:
            fill = band.fill if band else f"url(#{_e(ident)}-hatch)"
            parts.append(
                f'<rect x="0" y="{_n(top)}" width="20" height="16" fill="{fill}" '
                f'stroke="{_OUTLINE}" stroke-width="1"/>'
            )
        parts.append(
            f'<text x="28" y="{_n(top + 13)}" font-size="{_n(size)}" fill="{_TEXT}">'
            f"{_e(label)}</text>"
        )
    parts.append("</g>")
    return "".join(parts)


# --- Prefecture choropleth ------------------------------------------------------------------


@dataclass(frozen=True)
class MapArea:
    """One prefecture on the national map: its two-digit code, name and rate (None: no data)."""

    code: str
    name: str
    rate: Decimal | None
    #: What hovering shows after the name (e.g. "52.6%（1,234件中 649件）"); default the rate.
    note: str = ""


Point = tuple[float, float]


def _simplify(points: Sequence[Point], tolerance: float) -> list[Point]:
    """Douglas–Peucker on one boundary segment, its two ends kept."""
    if len(points) < 3:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (x1, y1), (x2, y2) = points[first], points[last]
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy)
        farthest, distance = first, 0.0
        for index in range(first + 1, last):
            px, py = points[index]
            if length == 0:
                d = math.hypot(px - x1, py - y1)
            else:
                d = abs(dy * px - dx * py + x2 * y1 - y2 * x1) / length
            if d > distance:
                farthest, distance = index, d
        if distance > tolerance:
            keep[farthest] = True
            stack.append((first, farthest))
            stack.append((farthest, last))
    return [point for point, kept in zip(points, keep, strict=True) if kept]


@cache
def _prefecture_outlines(*, moved: bool, tolerance: float) -> tuple[tuple[Point, ...], ...]:
    """The 47 outlines in longitude/latitude, simplified per shared boundary segment (so
    that neighbours keep the same vertices and no gap opens between them)."""
    import japanmap  # numpy comes with it: imported only when a map is drawn

    qp, qo = japanmap.get_data(  # type: ignore[no-untyped-call]  # the package has no hints
        move_hokkaido=moved, move_okinawa=moved
    )
    done: dict[tuple[int, ...], list[Point]] = {}
    outlines: list[tuple[Point, ...]] = []
    for segments in qo:
        ring: list[Point] = []
        for _neighbour, indices in segments:
            key = tuple(indices)
            if key in done:
                points = done[key]
            elif key[::-1] in done:
                points = done[key[::-1]][::-1]
            else:
                raw = [(float(qp[i][0][0]), float(qp[i][0][1])) for i in indices]
                points = _simplify(raw, tolerance)
                done[key] = points
            ring.extend(points if not ring else points[1:])
        outlines.append(tuple(ring))
    return tuple(outlines)


def _path(points: Sequence[Point], project: Callable[[Point], Point]) -> str:
    coords = [project(point) for point in points]
    head, *rest = coords
    return f"M{_n(head[0])},{_n(head[1])}" + "".join(f"L{_n(x)},{_n(y)}" for x, y in rest) + "Z"


def prefecture_choropleth(
    *,
    areas: Sequence[MapArea],
    title: str,
    desc: str,
    ident: str = "prefecture-map",
    legend_heading: str = "",
) -> SafeString:
    """Japan's 47 prefectures filled by rate class; a prefecture missing from ``areas`` or
    with a rate of None is hatched and its hover text says "データなし"."""
    by_code = {area.code: area for area in areas}
    outlines = _prefecture_outlines(moved=True, tolerance=0.02)
    scale_x = 40.0 * math.cos(math.radians(_NATIONAL_PARALLEL))
    scale_y = 40.0
    xs = [lon for ring in outlines for lon, _ in ring]
    ys = [lat for ring in outlines for _, lat in ring]
    west, east, south, north = min(xs), max(xs), min(ys), max(ys)
    margin = 8.0
    width = (east - west) * scale_x + 2 * margin
    height = (north - south) * scale_y + 2 * margin

    def project(point: Point) -> Point:
        return (margin + (point[0] - west) * scale_x, margin + (north - point[1]) * scale_y)

    # The legend stands beside the map, never over a coast.
    legend_space = 170.0
    parts = [
        _open(
            ident=ident,
            width=width + legend_space,
            height=height,
            title=title,
            desc=desc,
            css="chart-map",
        ),
        f"<defs>{_hatch(ident)}</defs>",
    ]
    # The insets: a thin frame round Hokkaidō (moved south-west) and Okinawa (moved north-east).
    for index in (0, 46):
        ring = outlines[index]
        (x1, y1) = project((min(p[0] for p in ring), max(p[1] for p in ring)))
        (x2, y2) = project((max(p[0] for p in ring), min(p[1] for p in ring)))
        parts.append(
            f'<rect x="{_n(x1 - 4)}" y="{_n(y1 - 4)}" width="{_n(x2 - x1 + 8)}" '
            f'height="{_n(y2 - y1 + 8)}" fill="none" stroke="{_OUTLINE}" '
            f'stroke-width="0.8" stroke-dasharray="4 3"/>'
        )
    parts.append('<g stroke="#ffffff" stroke-width="0.6" stroke-linejoin="round">')
    for number, ring in enumerate(outlines, start=1):
        code = f"{number:02d}"
        area = by_code.get(code)
        band = rate_band(area.rate if area else None)
        name = area.name if area else prefecture_names()[number - 1]
        if band is None:
            fill, css, note = f"url(#{_e(ident)}-hatch)", "no-data", no_data_label()
            stroke = f' stroke="{_NO_DATA_STROKE}"'
        else:
            fill, css, stroke = band.fill, band.code, ""
            note = area.note if area and area.note else f"{area.rate if area else ''}%"
        parts.append(
            f'<path class="area area--{css}" data-code="{code}" fill="{fill}"{stroke} '
            f'd="{_path(ring, project)}"><title>{_e(name)}: {_e(note)}</title></path>'
        )
    parts.append("</g>")
    parts.append(
        _legend(
            ident=ident,
            x=width + 10,
            y=height - 150,
            heading=legend_heading or gettext("オンライン利用率"),
        )
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every text above is escaped by _e)


@cache
def prefecture_names() -> tuple[str, ...]:
    """The prefectures' names in code order (01 北海道 … 47 沖縄県), as japanmap lists them."""
    import japanmap

    return tuple(japanmap.pref_names[1:])


# --- Municipal dot map ------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A municipality on the dot map."""

    code: str
    name: str
    latitude: Decimal | float | None
    longitude: Decimal | float | None
    rate: Decimal | None
    #: Hover text after the name; default the rate or "データなし".
    note: str = ""


@dataclass(frozen=True)
class DotMap:
    svg: SafeString
    #: Places drawn.
    drawn: tuple[Place, ...]
    #: Places outside the drawn area (remote islands) — listed under the map.
    outside: tuple[Place, ...]
    #: Places without coordinates — listed under the map.
    unplaced: tuple[Place, ...]


def municipality_dot_map(
    *,
    prefecture_code: str,
    places: Sequence[Place],
    title: str,
    desc: str,
    ident: str = "municipality-map",
    legend_heading: str = "",
) -> DotMap:
    """A prefecture's municipalities as dots on its outline: colour and size by rate class,
    a hollow ring for no data, the name and rate on hover (``<title>``).

    The view is the prefecture's outline (``japanmap``) widened to the dots within a margin
    of it; dots farther away (remote islands such as 小笠原村) are left out of the drawing and
    returned in ``outside``. Raises ValueError for a code that is not 01–47.
    """
    if not re.fullmatch(r"[0-9]{2}", prefecture_code):
        raise ValueError(f"not a prefecture code: {prefecture_code!r}")
    number = int(prefecture_code)
    if not 1 <= number <= len(prefecture_names()):
        raise ValueError(f"not a prefecture code: {prefecture_code!r}")
    ring = _prefecture_outlines(moved=False, tolerance=0.002)[number - 1]
    west = min(lon for lon, _ in ring)
    east = max(lon for lon, _ in ring)
    south = min(lat for _, lat in ring)
    north = max(lat for _, lat in ring)
    slack = max(east - west, north - south) * 0.15

    located: list[tuple[Place, float, float]] = []
    outside: list[Place] = []
    unplaced: list[Place] = []
    for place in places:
        if place.latitude is None or place.longitude is None:
            unplaced.append(place)
            continue
        lat, lon = float(place.latitude), float(place.longitude)
        if not (west - slack <= lon <= east + slack and south - slack <= lat <= north + slack):
            outside.append(place)
            continue
        located.append((place, lat, lon))
    if located:
        west = min(west, *(lon for _, _, lon in located))
        east = max(east, *(lon for _, _, lon in located))
        south = min(south, *(lat for _, lat, _ in located))
        north = max(north, *(lat for _, lat, _ in located))

    cos_phi = math.cos(math.radians((north + south) / 2))
    span_x = max((east - west) * cos_phi, 1e-6)
    span_y = max(north - south, 1e-6)
    # Fitted: the longer side is 560 units; room for the legend to the right.
    scale = 560.0 / max(span_x, span_y)
    margin = 14.0
    legend_width = 200.0
    map_width = span_x * scale + 2 * margin
    width = map_width + legend_width
    height = max(span_y * scale + 2 * margin, 170.0)

    def project(point: Point) -> Point:
        return (
            margin + (point[0] - west) * cos_phi * scale,
            margin + (north - point[1]) * scale,
        )

    parts = [
        _open(ident=ident, width=width, height=height, title=title, desc=desc, css="chart-map"),
        f'<path class="outline" fill="#f2f2f2" stroke="{_OUTLINE}" stroke-width="1" '
        f'stroke-linejoin="round" d="{_path(ring, project)}"/>',
    ]
    # Bigger dots first, so that a small one is never hidden under a big neighbour.
    order = sorted(located, key=lambda item: -(rate_band(item[0].rate) or RATE_BANDS[0]).radius)
    parts.append('<g class="dots">')
    for place, lat, lon in order:
        x, y = project((lon, lat))
        band = rate_band(place.rate)
        if band is None:
            note = place.note or no_data_label()
            shape = (
                f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(RATE_BANDS[0].radius)}" '
                f'fill="#ffffff" stroke="{_DOT_STROKE}" stroke-width="2"/>'
            )
            css = "no-data"
        else:
            note = place.note or f"{place.rate}%"
            shape = (
                f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(band.radius)}" fill="{band.fill}" '
                f'stroke="{_DOT_STROKE}" stroke-width="1"/>'
            )
            css = band.code
        parts.append(
            f'<g class="dot dot--{css}" data-code="{_e(place.code)}">'
            f"<title>{_e(place.name)}: {_e(note)}</title>{shape}</g>"
        )
    parts.append("</g>")
    parts.append(
        _legend(
            ident=ident,
            x=map_width + 12,
            y=24,
            heading=legend_heading or gettext("オンライン利用率"),
            dots=True,
            size=16,
        )
    )
    parts.append("</svg>")
    drawn = tuple(place for place, _, _ in located)
    return DotMap(
        svg=mark_safe("".join(parts)),  # noqa: S308 (every text above is escaped by _e)
        drawn=drawn,
        outside=tuple(outside),
        unplaced=tuple(unplaced),
    )


# --- Horizontal bar chart ---------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One bar: its label (drawn above the bar), value and the text printed after it."""

    label: str
    value: Decimal | int | None
    text: str = ""


def bar_chart(
    *,
    bars: Sequence[Bar],
    title: str,
    desc: str,
    ident: str = "bar-chart",
    maximum: Decimal | int | None = None,
    width: float = 360.0,
) -> SafeString:
    """Horizontal bars, each with its label above it (long Japanese names never need to be
    measured) and its value printed after it. ``maximum`` fixes the scale (100 for rates);
    by default the largest value. A bar of None is drawn as a hatched stub labelled
    "データなし"; an empty ``bars`` gives a chart that says so."""
    row = 46.0
    top = 6.0
    # Wide enough for the longest label (a procedure's official name runs to 40 characters):
    # the chart scales down on the page rather than cut a name off.
    width = max(width, max((_text_width(bar.label, 14) for bar in bars), default=0.0) + 4)
    # Room after the longest bar for the longest value text, so that it is never cut off.
    # The bars keep at least 40% of the width.
    longest = max((_text_width(bar.text or str(bar.value), 13) for bar in bars), default=0)
    label_width = max(min(longest + 8, width * 0.6), 86.0)
    bar_area = width - label_width
    values = [bar.value for bar in bars if bar.value is not None]
    scale_max = Decimal(maximum) if maximum is not None else Decimal(max(values, default=0))
    height = top + max(len(bars), 1) * row + 4
    parts = [
        _open(ident=ident, width=width, height=height, title=title, desc=desc, css="chart-bars"),
        f"<defs>{_hatch(ident)}</defs>",
    ]
    if not bars:
        parts.append(
            f'<text x="0" y="{_n(top + 20)}" font-size="14" fill="{_SUB}">'
            f"{_e(no_data_label())}</text>"
        )
    for index, bar in enumerate(bars):
        y = top + index * row
        parts.append(
            f'<text x="0" y="{_n(y + 14)}" font-size="14" fill="{_TEXT}">{_e(bar.label)}</text>'
        )
        bar_y = y + 20
        if bar.value is None:
            parts.append(
                f'<rect x="0" y="{_n(bar_y)}" width="24" height="16" '
                f'fill="url(#{_e(ident)}-hatch)" stroke="{_NO_DATA_STROKE}" stroke-width="1"/>'
                f'<text x="30" y="{_n(bar_y + 13)}" font-size="13" fill="{_SUB}">'
                f"{_e(bar.text or no_data_label())}</text>"
            )
            continue
        fraction = float(Decimal(bar.value) / scale_max) if scale_max > 0 else 0.0
        length = max(min(fraction, 1.0) * bar_area, 0.0)
        parts.append(
            f'<rect class="bar" x="0" y="{_n(bar_y)}" width="{_n(length)}" height="16" '
            f'fill="#0031d8"/>'
            f'<text x="{_n(length + 6)}" y="{_n(bar_y + 13)}" font-size="13" '
            f'fill="{_TEXT}">{_e(bar.text or bar.value)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every text above is escaped by _e)
