"""Outside text made safe to show: names and ids from Stripe or files, and messages
that quote them, are data, never markup or terminal control.

`printable` is the one place that decides what reaches a terminal, `scrub` the one
that masks secrets, and every message passes both (`one_line`); `csv_cell` keeps a
spreadsheet from taking a cell for a formula, and passes `printable` too.
"""

import re
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
    return "".join(_shown(ch) for ch in text)


def _shown(ch: str) -> str:
    if unicodedata.category(ch) not in _UNSAFE:
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# Any Stripe secret or restricted key, wherever it stands (also glued to other words).
KEY_PATTERN = re.compile(r"([sr]k)_(live|test)_[0-9A-Za-z]+")
_secrets: set[str] = set()


def keep_secret(value: str) -> None:
    """Mask `value` (the API key in use) in every message from now on, whatever its form."""
    if value:
        _secrets.add(value)


def scrub(text: str) -> str:
    """`text` with the key in use and anything shaped like a Stripe key masked."""
    for secret in _secrets:
        text = text.replace(secret, "***")
    return KEY_PATTERN.sub(lambda m: f"{m.group(1)}_{m.group(2)}_***", text)


def one_line(message: str) -> str:
    """A message as it may be shown: secrets masked, on one line (quoted text can span
    several), printable."""
    return printable(" ".join(scrub(message).split()))


def csv_cell(value: str) -> str:
    """Text for a CSV cell that a spreadsheet shows as text, never runs as a formula (a
    leading ' is how spreadsheets mark a cell as text), and that a terminal showing the
    CSV never acts on (controls shown as their escapes, as everywhere)."""
    value = printable(value)
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value
