"""What the support graph remembers about a customer across conversations, without PII.

Two namespaces per customer (`orchestrator.memory.namespaces.customer_ns`):
`preferences` (one item per topic: contact channel, delivery speed, account type) and
`issues` (one item per handled request: intent, order, outcome). Every text passes through
`redact` first, so an e-mail address or phone number a customer writes never reaches memory.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from orchestrator.memory.namespaces import customer_ns

__all__ = ["parse_preferences", "recall", "redact", "remember_issue", "remember_preferences"]

_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_RE = re.compile(r"(?<![\w-])\+?\d[\d ().-]{6,}\d(?![\w-])")


def redact(text: str) -> str:
    """`text` with e-mail addresses and phone numbers replaced by `[email]` and `[phone]`."""
    return _PHONE_RE.sub("[phone]", _EMAIL_RE.sub("[email]", text))


_PREFERENCES: tuple[tuple[str, str, str], ...] = (
    ("contact", r"\b(by|via|over) e-?mail\b|\be-?mail me\b", "email"),
    ("contact", r"\b(by|via|over) (phone|telephone)\b|\b(call|ring) me\b", "phone"),
    ("contact", r"\b(by|via|over) (sms|text)\b|\btext me\b", "sms"),
    ("delivery", r"\bnext[- ]day\b", "next_day"),
    ("delivery", r"\bexpress\b", "express"),
    ("delivery", r"\b(cheapest|standard) (delivery|shipping)\b", "standard"),
    ("account", r"\b(school|education|teacher|classroom)\b", "education"),
)


def parse_preferences(message: str) -> dict[str, str]:
    """Preferences a message states ("please contact me by email", "I teach at a school")."""
    text = message.lower()
    found: dict[str, str] = {}
    for topic, pattern, value in _PREFERENCES:
        if topic not in found and re.search(pattern, text):
            found[topic] = value
    return found


def recall(store: Any, customer_id: int | None, *, issues: int = 3) -> dict[str, Any]:
    """The customer's preferences and most recent issues (empty without a store or customer)."""
    if store is None or customer_id is None:
        return {"preferences": {}, "issues": []}
    prefs = {
        item.key: item.value.get("value")
        for item in store.search(customer_ns(customer_id, "preferences"), limit=20)
    }
    past = sorted(
        (item.value for item in store.search(customer_ns(customer_id, "issues"), limit=50)),
        key=lambda value: str(value.get("at", "")),
        reverse=True,
    )[:issues]
    return {"preferences": prefs, "issues": past}


def remember_preferences(store: Any, customer_id: int, preferences: dict[str, str]) -> None:
    """Store each preference under its topic (a later statement replaces an earlier one)."""
    for topic, value in preferences.items():
        store.put(
            customer_ns(customer_id, "preferences"),
            topic,
            {"topic": topic, "value": redact(value), "at": datetime.now(UTC).isoformat()},
            index=False,
        )


def remember_issue(
    store: Any,
    customer_id: int,
    key: str,
    *,
    intent: str,
    specialist: str,
    outcome: str,
    order_id: int | None = None,
) -> None:
    """Store one handled request (the outcome redacted), keyed so a re-run overwrites it."""
    text = redact(outcome)[:500]
    store.put(
        customer_ns(customer_id, "issues"),
        key,
        {
            "intent": intent,
            "specialist": specialist,
            "order_id": order_id,
            "text": text,
            "at": datetime.now(UTC).isoformat(),
        },
        index=False,
    )
