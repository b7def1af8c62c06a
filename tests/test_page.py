"""What the HTML pages share: how a long text is cut (the pages' escaping of what they are
given is tested page by page in tests/test_report_templates.py)."""

from __future__ import annotations

from prodml.page import clip


def test_clip_keeps_short_text_and_marks_where_it_cut_long_text() -> None:
    assert clip("north", 5) == "north"
    assert clip("north-east", 5) == "nort…"
    assert len(clip("x" * 100, 32)) == 32
