"""The server-side SVG pictures: well-formed, scaled, and with every text escaped."""

import xml.etree.ElementTree as ET

import pytest

from esi_dashboard import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup):
    # Inline SVG in HTML carries no namespace; add it to parse as XML.
    return ET.fromstring(str(markup).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def test_histogram_scales_bars_to_the_largest():
    svg = parse(charts.histogram([charts.Bar("a", 10), charts.Bar("b", 5, "expired"), charts.Bar("c", 0)], "Tokens"))
    heights = [float(rect.get("height")) for rect in svg.iter(SVG + "rect")]
    assert heights[0] == pytest.approx(2 * heights[1]) and heights[2] == 0
    assert svg.get("aria-label") == "Tokens" and svg.find(SVG + "title").text == "Tokens"
    assert [g.get("class") for g in svg.iter(SVG + "g")] == ["bar ", "bar expired", "bar "]


def test_histogram_of_nothing():
    svg = parse(charts.histogram([charts.Bar("a", 0)], "Empty"))
    assert [float(r.get("height")) for r in svg.iter(SVG + "rect")] == [0.0]


def test_text_is_escaped():
    hostile = '</svg><script>alert(1)</script>&"'
    markup = str(charts.histogram([charts.Bar(hostile, 1, tooltip=hostile)], hostile))
    assert "<script>" not in markup
    svg = parse(markup)
    assert svg.get("aria-label") == hostile
    assert any(t.text == hostile for t in svg.iter(SVG + "text"))
    gauges = str(charts.gauges([charts.Gauge(hostile, 1, 2, detail=hostile)], hostile))
    assert "<script>" not in gauges
    parse(gauges)


def test_timeline_steps_and_gaps():
    start = 1_800_000_000.0
    points = [(start + 60, 100), (start + 240, 80), (start + 1200, 5)]
    svg = parse(charts.timeline(points, start, start + 3600, "Errors", threshold=10))
    path = svg.find(SVG + "path").get("d")
    # Two segments: three minutes apart are joined, sixteen minutes apart are not.
    assert path.count("M") == 2 and path.count("H") == 1
    dots = list(svg.iter(SVG + "circle"))
    assert len(dots) == 3 and dots[2].get("class") == "dot low"
    assert svg.find(SVG + "line[@class='threshold']") is not None
    ticks = [t.text for t in svg.iter(SVG + "text") if t.get("class") == "tick"]
    assert "100" in ticks and "0" in ticks and any(":" in t for t in ticks)


def test_timeline_without_points_says_so():
    svg = parse(charts.timeline([], 0, 3600, "Errors"))
    assert svg.find(SVG + "path") is None
    assert any("No ESI answer" in (t.text or "") for t in svg.iter(SVG + "text"))


@pytest.mark.parametrize(
    ("remaining", "limit", "blocked", "kind", "share"),
    [(150, 150, False, "ok", 1.0), (30, 150, False, "low", 0.2), (1, 150, False, "empty", 1 / 150),
     (100, 150, True, "blocked", 2 / 3), (None, None, False, "empty", 0.0)],
)
def test_gauges(remaining, limit, blocked, kind, share):
    svg = parse(charts.gauges([charts.Gauge("char-detail", remaining, limit, blocked=blocked)], "Groups"))
    group = next(svg.iter(SVG + "g"))
    assert group.get("class") == f"gauge {kind}"
    track, fill = list(group.iter(SVG + "rect"))
    assert float(fill.get("width")) == pytest.approx(float(track.get("width")) * share, abs=0.1)


def test_no_gauges():
    svg = parse(charts.gauges([], "Groups"))
    assert any("No rate-limit group" in (t.text or "") for t in svg.iter(SVG + "text"))
