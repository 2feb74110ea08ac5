"""One escaping for every text the plugin writes: terminal lines, Markdown, HTML.

Names, test ids, messages and catalog free text come from users' code and
files: a backtick, a newline, ``<script>``, an ANSI escape or a lone
surrogate (an undecodable file name) in any of them must show as what it is,
never change the document around it or crash a writer::

    >>> printable("shop.paid\\x1b[2J\\n")
    'shop.paid\\\\x1b[2J\\\\n'
    >>> md_code("a`b")
    '``a`b``'
    >>> md_code("x|y", table=True)
    '`x\\\\|y`'
    >>> md_text("<b>*all* gates passed</b>")
    '&lt;b>\\\\*all\\\\* gates passed&lt;/b>'
    >>> html_text("<a href='x'>")
    '&lt;a href=&#x27;x&#x27;&gt;'

- :func:`printable`: control characters (C0, DEL, C1), line and paragraph
  separators, bidirectional overrides and lone surrogates become visible
  ``\\x1b``, ``\\n``, ``\\u202e``, ``\\udcff`` escapes: one line, safe for a
  terminal, a CI log and any UTF-8 file. Every writer below applies it first.
- :func:`md_text`: Markdown text (a paragraph or a table cell): HTML and
  every Markdown punctuation made literal, ``|`` escaped so a cell stays one.
- :func:`md_code`: a Markdown code span holding any text, backticks
  included (a longer fence), ``|`` escaped in a table (GitHub reads ``\\|``
  as a pipe inside code spans of table cells too).
- :func:`html_text`: HTML text or an attribute value.

This module imports nothing of the plugin: every layer (catalog export,
the report, the command line) uses it.
"""

from __future__ import annotations

import html
import re
from typing import Any

__all__ = ["html_text", "md_code", "md_text", "printable"]

# C0 controls, DEL, C1 controls, line/paragraph separators, bidi marks and overrides, surrogates
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: Any) -> str:
    """``value`` as one line of safe text: unsafe characters become visible escapes."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # the common case: nothing to do (isprintable is False for all of _UNSAFE)
        return text
    return _UNSAFE.sub(_escape_char, text)


# Markdown: what opens or closes inline constructs (emphasis, strikethrough, links, code, math,
# escapes, table cells) anywhere in a line; ``_`` only where it could (not inside a word).
_MD_INLINE = re.compile(r"[\\`*\[\]|~$]|_(?![^\W_])|(?<![^\W_])_")
# ... and what starts a block when the text begins a line (a heading, a quote, a list, a rule).
_MD_BLOCK_START = re.compile(r"^([#>+=-]|\d+[.)])")
_LEADING_SPACES = re.compile(r"^[ \t]+")


def md_text(value: Any) -> str:
    """``value`` as literal Markdown text, for a paragraph or a table cell.

    ``&`` and ``<`` become entities (no tag, no entity of the text is read),
    Markdown punctuation is backslash-escaped (no emphasis, link, code or
    table cell boundary), newlines and other controls are shown as escapes
    (no new line, so no forged heading), and a start that would open a block
    is escaped too.
    """
    text = printable(value).replace("&", "&amp;").replace("<", "&lt;")
    text = _MD_INLINE.sub(lambda m: "\\" + m.group(), text)
    text = _MD_BLOCK_START.sub(lambda m: m.group()[:-1] + "\\" + m.group()[-1], text)
    # leading spaces as entities: they would indent (a code block) or hide a block start
    return _LEADING_SPACES.sub(lambda m: "&#32;" * len(m.group()), text)


def md_code(value: Any, *, table: bool = False) -> str:
    """``value`` as a Markdown code span, whatever backticks it holds.

    Code spans show their content literally (no HTML, no entities, no
    emphasis); the fence is one backtick longer than the longest run of
    backticks inside, with a space of padding when the text starts or ends
    with a backtick or a space. In a table cell (``table=True``) each ``|``
    is written ``\\|``, which GitHub reads back as ``|``.
    """
    text = printable(value)
    if not text:
        return "` `"
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    if text[0] in "` " or text[-1] in "` ":
        text = f" {text} "
    if table:
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


def html_text(value: Any) -> str:
    """``value`` as HTML text or a quoted attribute value (``&``, ``<``, ``>``, quotes escaped)."""
    return html.escape(printable(value), quote=True)
