"""Text from people (labels, names) made safe to print on an operator's terminal.

A board label or a name can hold control characters — ESC sequences that retitle the
window, move the cursor, rewrite earlier lines or, on some terminals, answer back. The CLI
prints such text through :func:`printable`; labels are refused with them on the way in
(:func:`check_label`), so only rows from before that rule need the escaping.
"""

from __future__ import annotations

import unicodedata

__all__ = ["MAX_LABEL_CHARS", "check_label", "printable"]

MAX_LABEL_CHARS = 80


def _is_control(ch: str) -> bool:
    # Unicode's "Other" categories: controls (C0, DEL, C1 — ESC and CSI among them), format
    # characters (bidi overrides that reorder what the terminal shows), surrogates, private
    # use and unassigned code points.
    return unicodedata.category(ch).startswith("C")


def printable(text: str) -> str:
    """``text`` with every control or format character written as a visible escape
    (``\\x1b``, ``\\u202e``), so printing it cannot act on the terminal."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if _is_control(ch) else ch for ch in text
    )


def check_label(text: str) -> str:
    """A label as stored: trimmed; ValueError (a sentence for the person) when it holds a
    control character or is longer than :data:`MAX_LABEL_CHARS`."""
    label = text.strip()
    if any(_is_control(ch) for ch in label):
        raise ValueError("a label cannot hold control characters")
    if len(label) > MAX_LABEL_CHARS:
        raise ValueError(f"a label has at most {MAX_LABEL_CHARS} characters")
    return label
