"""CSV exports open in spreadsheets, which run a cell that starts like a formula."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """`value`, with a quote before text a spreadsheet would read as a formula: exports
    carry customers' words. A lone "-" (no figure) stays as it is."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS and value != "-":
        return "'" + value
    return value
