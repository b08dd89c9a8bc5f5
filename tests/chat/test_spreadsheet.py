"""Exports (admin transcripts, report CSVs) never hand a spreadsheet a formula."""

import pytest

from chat.spreadsheet import spreadsheet_safe


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_text_starting_like_a_formula_is_quoted(text):
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("value", ["Where is my order?", "-", "", 42, None, 3.5])
def test_anything_else_is_left_as_it_is(value):
    assert spreadsheet_safe(value) == value
