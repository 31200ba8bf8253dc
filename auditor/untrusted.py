"""Text from outside (a server's error, a config value, a bundle's names) made safe to keep and
to show: :func:`clip` bounds its length, :func:`escape_controls` makes every control character
visible instead of letting it act on a terminal or forge a log line.

A terminal obeys escape sequences wherever they come from: an OSC ``ESC ] 0;title BEL`` retitles
the window, ``ESC [2J`` clears it, a CR overwrites what the line said, a bidi override reorders
what it shows. Every value printed or logged goes through :func:`escape_controls`, so that what
an attacker wrote is shown as ``\\x1b]0;...`` and acts on nothing.
"""

from __future__ import annotations

import unicodedata

# Past this many characters a server's text (an error detail, a reason) is cut: enough for any
# real error message, too little to carry a whole echoed request or page into every output.
MAX_SERVER_TEXT = 300
ELLIPSIS = "…"

# Format characters that reorder or hide text (Trojan Source, CVE-2021-42574): the bidi
# embeddings, overrides and isolates, and the marks. Other format characters (a zero-width
# joiner in an emoji) are left alone.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _table(keep: str) -> dict[int, str]:
    # C0 (with DEL) and C1 are category Cc: every one of them, U+0000..U+009F.
    controls = [chr(c) for c in range(0xA0) if unicodedata.category(chr(c)) == "Cc"]
    return {ord(c): _escaped(c) for c in [*controls, *_BIDI] if c not in keep}


# A value on one line (a name, a handle, a reason): newlines are escaped too, so that a value
# cannot start a line of its own (a forged log line, a fake table row). Tabs are harmless.
_ONE_LINE = _table(keep="\t")
# A block of text the program laid out itself (a table, a traceback): its newlines stay.
_BLOCK = _table(keep="\t\n")


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every C0/C1 control character (ESC, BEL, CR, DEL ...) and every bidi
    control written out as ``\\x1b`` / ``\\u202e``; tabs kept, newlines kept only when asked."""
    return text.translate(_BLOCK if keep_newlines else _ONE_LINE)


def clip(text: str, limit: int = MAX_SERVER_TEXT) -> str:
    """``text`` cut to at most ``limit`` characters, the cut marked with "…"."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(ELLIPSIS))] + ELLIPSIS
