"""Untrusted text on its way out: to a terminal, into JSON, into a file name.

Patient ids, field names and values come from input files and may hold anything
Unicode allows: escape sequences that recolour or rewrite a terminal, newlines that
forge extra lines on stderr, bidirectional overrides that reorder what is shown,
path separators. Every place that shows or stores such text goes through here.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Any

# C0 and C1 controls, DEL, line and paragraph separators, bidirectional formatting
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# raw characters JSON allows inside strings but a terminal may act on (json.dumps escapes C0 itself)
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")

_SAFE_STEM = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")
_STEM_CHARS = re.compile(r"[^A-Za-z0-9]+")
MAX_STEM = 48


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    if match.group() in _NAMED:
        return _NAMED[match.group()]
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: str) -> str:
    """``text`` with every control or reordering character written as an escape (\\x1b, \\u202e).

    Lone surrogates (possible in JSON, not encodable as UTF-8) are escaped too, so the result
    can always be written to a UTF-8 stream.
    """
    return _SURROGATE.sub(_escape, _UNSAFE.sub(_escape, text))


def has_surrogate(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def json_line(value: Any, **options: Any) -> str:
    """json.dumps with non-ASCII kept readable, but C1 controls and reordering marks escaped.

    The escapes are valid JSON for the same characters, so a reader gets the exact value back.
    """
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False, **options))


def file_stem(text: str) -> str:
    """A file-name part for ``text``: ``text`` itself when it is plainly safe, else a readable
    version plus a digest of the exact text.

    Distinct texts give distinct stems: a kept text has single separators and so never contains
    '--', which every digested stem does. (Texts that differ only in case, "A" and "a", would share
    a file on a case-insensitive file system; OutputDir refuses to write both in one run.)
    """
    normal = unicodedata.normalize("NFC", text)
    if _SAFE_STEM.fullmatch(normal) and normal == text and len(text) <= MAX_STEM:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    readable = _STEM_CHARS.sub("_", text).strip("_")[:MAX_STEM]
    return f"{readable}--{digest}" if readable else f"id--{digest}"


def course_stem(patient: str, episode: str | None = None) -> str:
    """The file-name part of one course: the patient's stem, then '__' and the episode's when given.

    No file_stem contains '__' (kept texts have single separators; digested ones collapse
    runs to one '_'), so the pair can always be told apart: ("a", "b") and ("a__b", None) differ.
    """
    return file_stem(patient) if episode is None else f"{file_stem(patient)}__{file_stem(episode)}"
