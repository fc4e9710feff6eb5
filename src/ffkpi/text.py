"""Outside text made safe to show: names and ids from Stripe or files, and messages
that quote them, are data, never markup or terminal control.

`printable` is the one place that decides what reaches a terminal; `csv_cell` keeps a
spreadsheet from taking a cell for a formula.
"""

import unicodedata

# Characters a terminal or a bidi algorithm acts on: C0 and C1 controls (escape
# sequences start with ESC or CSI), DEL, and the invisible format characters (bidi
# overrides and isolates, zero-width joiners) that can reorder or hide what is shown.
_UNSAFE = ("Cc", "Cf")
# The cell starts Excel, LibreOffice and Google Sheets read as a formula (OWASP's list).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def printable(text: str) -> str:
    """`text` with every control or format character shown as its escape (\\x1b,
    \\u202e), so what it is stays visible and nothing acts on the terminal."""
    if text.isprintable():
        return text  # the common case, checked in C
    return "".join(
        f"\\x{ord(ch):02x}"
        if ord(ch) < 0x100 and unicodedata.category(ch) in _UNSAFE
        else f"\\u{ord(ch):04x}"
        if unicodedata.category(ch) in _UNSAFE
        else ch
        for ch in text
    )


def one_line(message: str) -> str:
    """A message on one line (quoted text can span several), printable."""
    return printable(" ".join(message.split()))


def csv_cell(value: str) -> str:
    """Text for a CSV cell that a spreadsheet shows as text, never runs as a formula:
    a leading ' is how spreadsheets mark a cell as text."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value
