"""Text from a release is data: one escaping function per medium it reaches.

A provenance is written by whoever made the release folder, so any text in it (a source origin, a
licence, a file name) may carry markup or terminal control sequences. Each medium has one function,
used everywhere text from a release reaches it:

- :func:`terminal`: ``list``, ``info``, ``verify`` and every error line: control characters (C0, C1,
  DEL) and the bidirectional overrides are shown as ``\\xNN`` / ``\\uNNNN`` escapes, on one line;
- :func:`markdown`: the Hugging Face dataset card: HTML special characters become entities and
  Markdown's own punctuation is backslash-escaped, control characters are dropped, one line;
- :func:`croissant_url`: a URL written into ``croissant.json``: only a plain relative file name inside
  the release or export (``contentUrl``), or an ``http(s)`` URL without spaces, quotes or markup for
  an external identity; anything else gives None and is left out.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Unicode bidirectional controls (the "Trojan source" characters) besides the C0/C1 controls
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~-])")
_PLAIN_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?\Z")
_HTTP_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/+=,;:@-]*)?\Z", re.ASCII)


def _control(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc" or ch in _BIDI


def terminal(text: object) -> str:
    """``text`` safe to print on a terminal: every control character (newlines included) and bidirectional
    override shown as a visible escape, so nothing from a file can move the cursor, recolour or hide text."""
    s = str(text)
    return "".join((f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}") if _control(ch) else ch
                   for ch in s)


def markdown(text: object) -> str:
    """``text`` as inert Markdown/HTML: ``< > & " '`` as entities, Markdown punctuation backslash-escaped,
    control characters and line breaks dropped (one line, so it stays inside its table cell or sentence)."""
    s = "".join(" " if _control(ch) else ch for ch in str(text))
    return html.escape(_MD_SPECIAL.sub(r"\\\1", s), quote=True)


def croissant_url(text: object, relative: bool = True) -> str | None:
    """``text`` when it may stand as a URL in ``croissant.json``, else None.

    ``relative``: a plain file name (or ``<config>/<file>``) inside the release or export: no scheme,
    no leading ``/``, no ``..``. Else an absolute ``http(s)`` URL of plain characters (an external
    identity such as a source's homepage); ``javascript:``, ``data:``, spaces, quotes, markup: None.
    """
    if not isinstance(text, str):
        return None
    if relative:
        return text if _PLAIN_FILE.match(text) and ".." not in text.split("/") else None
    return text if _HTTP_URL.match(text) else None
