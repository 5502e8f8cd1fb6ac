"""What free text the archive accepts (labels, tags, comments, authors, file types), and how
text already stored is shown.

The rule (``docs/reliability.md``, "Text that misleads"):

- **Refused when written** (`check_text`): text that is not a string, empty or only white
  space, over its length limit, not valid UTF-8 (lone surrogates), or containing

  - a C0 control other than tab and newline, DEL, or a C1 control (U+0080-U+009F): terminals
    act on them (``ESC [ ...`` sequences, U+009B, the C1 CSI);
  - a bidirectional embedding, override or isolate (U+202A-U+202E, U+2066-U+2069): they make a
    label read differently from what it holds ("Trojan source");
  - nothing visible at all: only format characters (U+200B zero width space, U+2060, U+FEFF,
    U+200E/U+200F marks...), fillers (U+3164, U+115F, U+1160, U+FFA0, U+2800) and white space.

  Everything else is stored as given: any script, right-to-left text with its ordinary marks
  (U+200E, U+200F, U+061C), emoji with joiners, combining marks, SQL-looking text. Tags also
  refuse white space (`check_tag`).
- **Shown escaped when read** (`displayed`): production, or an archive written before this rule,
  may hold such text, and reading must never fail. Every command that prints stored text
  (``search``, ``show`` and the TSV output of the production commands) shows those characters
  as ``\\u202e``-style escapes (``\\x1b`` for controls), and text with nothing visible wholly
  escaped, so what is printed is what is stored, visibly. JSON output (``search --json``) is
  escaped by JSON itself.
"""

from __future__ import annotations

import unicodedata

from .errors import InvalidInputError

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Embeddings, overrides and isolates: refused in new text, escaped when shown."""

INVISIBLE_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")
"""Letters and symbols that render as nothing (Hangul fillers, the blank braille pattern...)."""


def _is_control(ch: str) -> bool:
    code = ord(ch)
    return code < 32 or code == 127 or 0x80 <= code <= 0x9F


def _is_invisible(ch: str) -> bool:
    return ch.isspace() or ch in INVISIBLE_FILLERS or unicodedata.category(ch) in ("Cf", "Zs", "Zl", "Zp")


def problem(value: str, allow: str = "\t\n", need_visible: bool = True) -> str | None:
    """Why ``value`` is refused by the rule above (None when it is accepted); ``allow`` lists the
    controls kept (tab and newline by default); ``need_visible=False`` accepts text with no
    visible character (other text columns, where production allows an empty value)."""
    for ch in value:
        if _is_control(ch) and ch not in allow:
            return f"contains the control character U+{ord(ch):04X}"
        if ch in BIDI_CONTROLS:
            return (
                f"contains the bidirectional control U+{ord(ch):04X} ({unicodedata.name(ch)}), which makes "
                "text display differently from what it holds"
            )
    if need_visible and all(_is_invisible(ch) for ch in value):
        return "has no visible character"
    return None


def check_text(kind: str, value: object, max_length: int) -> str:
    """``value`` if the archive accepts it as ``kind`` (label, comment...), else one
    `InvalidInputError` line naming the field and the offending character (escaped)."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{kind} must be text, not {type(value).__name__}")
    if not value.strip():
        raise InvalidInputError(f"{kind} must not be empty")
    if len(value) > max_length:
        raise InvalidInputError(f"{kind} is {len(value)} characters long; the limit is {max_length}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"{kind} is not valid UTF-8 text") from None
    why = problem(value)
    if why is not None:
        shown = displayed(value if len(value) <= 80 else value[:77] + "...")
        raise InvalidInputError(f"{kind} {shown!r} {why}: remove it")
    return value


def check_tag(tag: object, max_length: int) -> str:
    text = check_text("tag", tag, max_length)
    if any(ch.isspace() for ch in text):
        raise InvalidInputError(f"tag {displayed(text)!r} contains white space")
    return text


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def displayed(value: str, keep: str = "\t\n") -> str:
    """``value`` safe to print: controls (but those in ``keep``) and bidirectional controls
    escaped (``\\x1b``, ``\\u202e``); text with no visible character (other than plain spaces)
    escaped wholly. Ordinary text, right-to-left scripts included, comes back unchanged."""
    if not isinstance(value, str) or not value:
        return value
    if all(_is_invisible(ch) for ch in value) and value.strip(" ") != "":
        return "".join(_escape(ch) if ch != " " else ch for ch in value)
    if not any((_is_control(ch) and ch not in keep) or ch in BIDI_CONTROLS for ch in value):
        return value
    return "".join(
        _escape(ch) if (_is_control(ch) and ch not in keep) or ch in BIDI_CONTROLS else ch for ch in value
    )
