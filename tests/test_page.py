"""The building blocks of the HTML pages escape what they are given and shape markup as
both pages expect."""

from __future__ import annotations

from prodml.page import clip, el, escape, svg, table, tr


def test_attribute_values_are_escaped_and_content_is_taken_as_markup() -> None:
    hostile = '"><script>alert(1)</script>'
    link = el("a", "<b>bold</b>", href=hostile, class_="x")
    assert link == (
        '<a href="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" class="x"><b>bold</b></a>'
    )
    assert "<script" not in el("p", escape(hostile))
    assert escape("R&D's <tag>") == "R&amp;D&#x27;s &lt;tag&gt;"


def test_an_element_without_content_closes_itself_and_an_empty_one_does_not() -> None:
    assert el("line", x1=0, y2=2.25, stroke_width="1") == '<line x1="0" y2="2.2" stroke-width="1"/>'
    assert el("td", "") == "<td></td>"


def test_clip_keeps_short_text_and_marks_where_it_cut_long_text() -> None:
    assert clip("north", 5) == "north"
    assert clip("north-east", 5) == "nort…"
    assert len(clip("x" * 100, 32)) == 32


def test_an_svg_title_is_escaped_and_comes_first() -> None:
    image = svg(10, 10, ["<g/>"], title="<i>drift</i>")
    assert image.split("\n")[1:3] == ["<title>&lt;i&gt;drift&lt;/i&gt;</title>", "<g/>"]


def test_a_cell_that_is_already_an_element_keeps_its_attributes() -> None:
    row = tr(["name", '<td class="num">3</td>'])
    assert row == '<tr><td>name</td><td class="num">3</td></tr>'
    markup = table(["name", '<th class="num">rows</th>'], [row], "heat")
    assert '<table class="heat">' in markup
    assert '<thead><tr><th>name</th><th class="num">rows</th></tr></thead>' in markup
