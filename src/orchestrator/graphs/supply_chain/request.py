"""Understanding a request in words: the need date and quantities in code, the items checked.

"we're running low on Arduino kits for tomorrow's robotics class" becomes: the item phrase
"arduino kits", no quantity, needed by the run's date + 1. A model may propose the item
phrases and a quantity (`RequestProposal`); code keeps a phrase only if it is in the text and
a quantity only if that number is in the text, and always reads the date itself
(`parse_need_date`). `parse_request` is the deterministic path.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ITEM_ALIASES",
    "AskedItem",
    "RequestProposal",
    "check_proposal",
    "parse_need_date",
    "parse_request",
]

ITEM_ALIASES: dict[str, str] = {
    "arduino": "ARD-",
    "uno": "ARD-UNO",
    "mega": "ARD-MEGA",
    "raspberry pi": "RPI-",
    "pi kit": "RPI-",
    "robot car": "ROBOT-CAR",
    "robotics kit": "ROBOT-CAR",
    "microscope": "MICRO-SCOPE",
    "chemistry set": "CHEM-SET",
    "solar kit": "SOLAR-KIT",
    "coding robot": "CODE-BOT",
    "esp32": "CMP-ESP32",
    "breadboard": "CMP-BREAD",
    "jumper wire": "CMP-JUMP",
    "servo": "CMP-SERVO",
}
"""Words people use for a product family -> the SKU prefix it maps to (the seeded STEM
catalogue's families: the names say "Uno R3 Starter Kit", people say "Arduino kits")."""

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_NUMBER_WORDS = {
    "a dozen": 12,
    "dozen": 12,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
}


def _month(word: str) -> int | None:
    word = word.lower()[:3]
    for i, name in enumerate(_MONTHS, start=1):
        if name.startswith(word) and len(word) >= 3:
            return i
    return None


def _future(as_of: date, month: int, day: int) -> date | None:
    for year in (as_of.year, as_of.year + 1):
        try:
            found = date(year, month, day)
        except ValueError:
            return None
        if found >= as_of:
            return found
    return None


def parse_need_date(text: str, as_of: date) -> tuple[date, str] | None:
    """The date `text` says something is needed by, relative to `as_of`, and the words that said it.

    Understands: today / tonight, tomorrow, the day after tomorrow, in N days / weeks, next
    week, this / next <weekday> and by/on <weekday> (the next one after `as_of`), ISO dates
    (2026-11-20), 20 November / November 20 / 20th Nov, and 20/11 (day first).

    Returns:
        (date, phrase), or None when the text names no date.

    Example:
        >>> parse_need_date("for tomorrow's robotics class", date(2026, 11, 1))
        (datetime.date(2026, 11, 2), 'tomorrow')
    """
    low = text.lower()
    if m := re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", low):
        try:
            return date(int(m[1]), int(m[2]), int(m[3])), m[0]
        except ValueError:
            pass
    if m := re.search(r"\bday after tomorrow\b", low):
        return as_of + timedelta(days=2), m[0]
    if m := re.search(r"\btomorrow\b", low):
        return as_of + timedelta(days=1), m[0]
    if m := re.search(r"\b(today|tonight|this (?:morning|afternoon|evening)|asap|now)\b", low):
        return as_of, m[0]
    if m := re.search(r"\bin (\d{1,3}|a|one|two|three|four) (day|week)s?\b", low):
        n = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4}.get(m[1]) or int(m[1])
        return as_of + timedelta(days=n * (7 if m[2] == "week" else 1)), m[0]
    if m := re.search(r"\bnext week\b", low):
        return as_of + timedelta(days=7), m[0]
    if m := re.search(
        r"\b(?:(next|this|by|on|for|before)\s+)?(" + "|".join(_WEEKDAYS) + r")\b", low
    ):
        target = _WEEKDAYS.index(m[2])
        ahead = (target - as_of.weekday()) % 7 or 7
        if m[1] == "next" and ahead < 7:
            ahead += 7 if ahead <= (6 - as_of.weekday()) else 0
        return as_of + timedelta(days=ahead), m[0].strip()
    for m in re.finditer(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]{3,9})\b", low):
        month = _month(m[2])
        if month is not None and (found := _future(as_of, month, int(m[1]))) is not None:
            return found, m[0]
    for m in re.finditer(r"\b([a-z]{3,9})\s+(\d{1,2})(?:st|nd|rd|th)?\b", low):
        month = _month(m[1])
        if month is not None and (found := _future(as_of, month, int(m[2]))) is not None:
            return found, m[0]
    m = re.search(r"\b(\d{1,2})/(\d{1,2})\b", low)
    if m and (found := _future(as_of, int(m[2]), int(m[1]))) is not None:
        return found, m[0]
    return None


class AskedItem(BaseModel):
    """One thing asked for, as the words said it."""

    model_config = ConfigDict(extra="forbid")

    phrase: str = Field(
        min_length=1, max_length=80, description="The item as written, e.g. 'Arduino kits'."
    )
    qty: int | None = Field(
        default=None, description="Units asked for, only if the text gives a number; else null."
    )
    additional: bool = Field(
        default=False, description="True when the number is on top of stock ('40 more')."
    )


class RequestProposal(BaseModel):
    """What a model reads from a stock request: the items and quantities it names."""

    model_config = ConfigDict(extra="forbid")

    items: list[AskedItem] = Field(default_factory=list, max_length=10)


_STOP = {
    "a",
    "an",
    "the",
    "some",
    "more",
    "any",
    "our",
    "of",
    "we",
    "we're",
    "are",
    "is",
    "on",
    "low",
    "running",
    "for",
    "need",
    "needs",
    "please",
    "order",
    "units",
    "unit",
}


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _quantity(text: str) -> tuple[int | None, bool]:
    low = text.lower()
    date_spans = [m.span() for m in re.finditer(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}", low)]
    for m in re.finditer(r"(?<![\w/-])(-?\d{1,7})(?![\w/-])(\s+more\b)?", low):
        if any(a <= m.start() < b for a, b in date_spans):
            continue
        after = low[m.end() : m.end() + 12]
        if re.match(r"\s*(st|nd|rd|th)?\s*(" + "|".join(_MONTHS) + r"|days?|weeks?)", after):
            continue
        before = low[max(0, m.start() - 3) : m.start()]
        if before.strip().endswith("in"):
            continue
        return int(m[1]), bool(m[2])
    for word, value in _NUMBER_WORDS.items():
        found = re.search(rf"\b{word}\b(\s+more\b)?", low)
        if found:
            return value, bool(found[1])
    return None, False


def parse_request(text: str) -> RequestProposal:
    """The deterministic reading of a request: known product words, else the phrase after
    "low on" / "out of" / "need" / "order", and the first number that is not a date.

    Example:
        >>> parse_request("we're running low on Arduino kits for tomorrow's robotics class")
        RequestProposal(items=[AskedItem(phrase='arduino kits', qty=None, additional=False)])
    """
    low = " ".join(text.lower().split())
    qty, additional = _quantity(low)
    items: list[AskedItem] = []
    for alias in sorted(ITEM_ALIASES, key=len, reverse=True):
        m = re.search(rf"\b{re.escape(alias)}(?:e?s)?\b(\s+[a-z]+)?", low)
        if m and not any(alias in item.phrase for item in items):
            tail = (m[1] or "").strip()
            phrase = (
                f"{alias} {tail}"
                if tail in {"kit", "kits", "board", "boards", "set", "sets"}
                else alias
            )
            items.append(AskedItem(phrase=phrase, qty=qty, additional=additional))
    if not items:
        m = re.search(
            r"\b(?:low on|out of|short of|short on|need|order|restock|more)\s+"
            r"(?:(?:\d+|some|more|a few|extra)\s+)*([a-z][a-z0-9 \-]{1,60}?)"
            r"(?=\s+(?:for|by|before|at|in|to|from|on|this|next|tomorrow|today)\b|[,.;!?]|$)",
            low,
        )
        if m:
            items.append(AskedItem(phrase=m[1].strip(), qty=qty, additional=additional))
    return RequestProposal(items=items[:10])


def phrase_words(phrase: str) -> list[str]:
    """The words of an item phrase worth searching for (singular, no filler)."""
    words = re.findall(r"[a-z0-9][a-z0-9\-]*", phrase.lower())
    return [_singular(w) for w in words if w not in _STOP]


def check_proposal(proposal: RequestProposal, text: str) -> tuple[RequestProposal, list[str]]:
    """Keep what the text supports: phrases whose words are in it, numbers that it contains.

    Quantities are the text's: a model's number is kept only if the text has it, "more" is
    read from the text (not from the model), and a single item the model gave no number gets
    the text's one quantity, if it has exactly one.

    Returns:
        The checked proposal and a note per thing dropped or changed.
    """
    low = text.lower()
    numbers = {int(n) for n in re.findall(r"\d+", low)}
    numbers |= {v for w, v in _NUMBER_WORDS.items() if re.search(rf"\b{w}\b", low)}
    kept: list[AskedItem] = []
    notes: list[str] = []
    for item in proposal.items:
        words = phrase_words(item.phrase)
        if not words or not all(w in low or f"{w}s" in low for w in words):
            notes.append(f"dropped the model's item {item.phrase!r}: not in the request")
            continue
        qty = item.qty
        if qty is not None and qty not in numbers:
            notes.append(
                f"dropped the model's quantity {qty} for {item.phrase!r}: not in the request"
            )
            qty = None
        kept.append(AskedItem(phrase=item.phrase, qty=qty))
    text_qty, text_more = _quantity(low)
    if len(kept) == 1 and kept[0].qty is None and text_qty is not None:
        notes.append(f"quantity {text_qty} read from the request")
        kept[0] = AskedItem(phrase=kept[0].phrase, qty=text_qty, additional=text_more)
    for i, item in enumerate(kept):
        if item.qty is not None:
            more = bool(re.search(rf"\b{item.qty}\s+more\b", low)) or (
                item.qty == text_qty and text_more
            )
            kept[i] = AskedItem(phrase=item.phrase, qty=item.qty, additional=more)
    return RequestProposal(items=kept), notes
