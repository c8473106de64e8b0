"""What the append-only tables may hold: bounded, storable, and free of personal data.

The audit log and the idempotency records are never updated or deleted, so what goes into
them must be safe to keep forever and must not fail to be written:

- **Storable**: a text value loses NUL characters and lone surrogates (shown escaped), a
  float that is not finite becomes its name, an integer outside 64 bits becomes text. Neither
  engine can then refuse the row over a value it records (the refusal of a call with bad
  input is audited like any other).
- **Bounded**: strings are cut at `MAX_TEXT` characters, lists and objects at `MAX_ITEMS`
  items, nesting at `MAX_DEPTH` levels; when anything was cut, `_sha256` holds the hash of
  the whole canonical value, so the record still identifies exactly what was passed.
- **No personal data**: the values of personal fields (`PERSONAL_FIELDS`: a shipping address,
  a ticket's subject and body, an email, a phone number) become a redacted form that says
  what was there and how long it was; email addresses and phone numbers inside any other
  text become `<email>` and `<phone>`. The personal data itself lives only in the domain rows
  (the order's address, the ticket's body), which `orchestrator customers erase` rewrites.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from orchestrator._personal import PHONE as _PHONE_RE
from orchestrator._personal import mask

__all__ = [
    "MAX_DEPTH",
    "MAX_ITEMS",
    "MAX_TEXT",
    "PERSONAL_FIELDS",
    "bad_text",
    "mask",
    "needs_care",
    "recordable",
    "redact_personal",
    "storable",
]

MAX_TEXT = 2000
"""The longest string a recorded value keeps (characters)."""
MAX_ITEMS = 200
"""The most items a recorded list or object keeps."""
MAX_DEPTH = 8
"""The deepest nesting a recorded value keeps."""

PERSONAL_FIELDS = frozenset(
    {
        "shipping_address",
        "address",
        "subject",
        "body",
        "email",
        "phone",
        "customer_name",
        "message",
    }
)
"""Argument and result fields that hold personal data: recorded only in redacted form."""

_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_BAD = re.compile(r"[\x00\ud800-\udfff]")
_INT64 = 2**63 - 1


def bad_text(value: str) -> str | None:
    """Why `value` cannot be stored as text on every engine (NUL, lone surrogate), or None."""
    found = _BAD.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character, which the store cannot hold"
    return "contains a lone surrogate (not valid Unicode), which the store cannot hold"


def storable(text: str) -> str:
    """`text` without NUL characters or lone surrogates (they are shown escaped)."""
    if _BAD.search(text) is None:
        return text
    text = text.replace("\x00", "\\x00")
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _redacted(field: str, value: object) -> object:
    if isinstance(value, str):
        if not value or value.startswith(f"[{field} redacted"):
            return value  # empty, or redacted already
        return f"[{field} redacted: {len(value)} characters]"
    if value is None or isinstance(value, bool | int | float):
        return value
    return f"[{field} redacted]"


def redact_personal(value: Any) -> Any:
    """A JSON-like value with personal fields redacted and emails/phones masked everywhere."""
    if isinstance(value, str):
        # A timestamp's digits (2026-11-29T04:55:38.123456+01:00) are not a phone number.
        return value if _TIMESTAMP.match(value) else mask(value)
    if isinstance(value, Mapping):
        return {
            k: _redacted(k, v) if k in PERSONAL_FIELDS else redact_personal(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_personal(v) for v in value]
    return value


class _Cut:
    __slots__ = ("cut",)

    def __init__(self) -> None:
        self.cut = False


def _bound(value: Any, depth: int, cut: _Cut) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -_INT64 <= value <= _INT64 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            cut.cut = True
            keep = MAX_TEXT - 40  # the cut text, suffix included, fits MAX_TEXT: cut once
            value = f"{value[:keep]}...[{len(value) - keep} more characters]"
        return storable(value)
    if depth >= MAX_DEPTH:
        cut.cut = True
        return "[nested too deep]"
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for i, (k, v) in enumerate(value.items()):
            if i >= MAX_ITEMS:
                cut.cut = True
                out["..."] = f"{len(value) - MAX_ITEMS} more keys"
                break
            out[storable(str(k))[:200]] = _bound(v, depth + 1, cut)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        bounded = [_bound(v, depth + 1, cut) for v in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            cut.cut = True
            bounded.append(f"... {len(items) - MAX_ITEMS} more items")
        return bounded
    if hasattr(value, "model_dump"):
        return _bound(value.model_dump(mode="json"), depth, cut)
    return _bound(repr(value), depth, cut)


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def recordable(value: Any, *, personal: bool = True) -> Any:
    """`value` as the append-only tables may hold it: storable, bounded, no personal data.

    Args:
        value: arguments, a before/after summary or a result (JSON-like, or models).
        personal: redact personal fields and mask emails/phones (default True).

    Returns:
        A JSON-safe value; a mapping that had to be cut gets `_sha256` of the whole.
    """
    cut = _Cut()
    bounded = _bound(value, 0, cut)
    if personal:
        bounded = redact_personal(bounded)
    if cut.cut and isinstance(bounded, dict):
        bounded["_sha256"] = _digest(value)
    return bounded


def needs_care(canonical: str, args: Mapping[str, Any]) -> bool:
    """Whether canonical JSON arguments need `recordable` before they are recorded.

    The write path's fast path skips it for the common call: no personal field, no email or
    phone-like text, nothing long.
    """
    if len(canonical) > MAX_TEXT or not PERSONAL_FIELDS.isdisjoint(args):
        return True
    if "@" in canonical or "\\u0000" in canonical or _BAD.search(canonical) is not None:
        return True
    return _PHONE_RE.search(canonical) is not None
