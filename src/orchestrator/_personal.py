"""Masking of personal data in free text: email addresses and phone numbers.

Used wherever text leaves the domain rows: the append-only audit log and idempotency records
(`orchestrator.store.services._record`), log lines, and error messages that quote a model's
reply (which may echo a customer's message). Standard library only, so any layer may use it.
"""

from __future__ import annotations

import re

__all__ = ["PHONE", "mask"]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<![\w])\+?\d(?:[\s().-]{0,2}\d){6,14}(?![\w])")
"""A phone-number-like run: 7 to 15 digits, optionally with +, spaces, dots, dashes, parens."""


def mask(text: str) -> str:
    """`text` with email addresses and phone numbers replaced by `<email>` and `<phone>`.

    Example:
        >>> mask("mail ada@example.org or ring +44 20 7946 0958")
        'mail <email> or ring <phone>'
    """
    if "@" in text:
        text = _EMAIL.sub("<email>", text)
    return PHONE.sub("<phone>", text)
