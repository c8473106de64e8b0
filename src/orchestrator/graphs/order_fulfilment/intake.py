"""Reading an order written as text: a deterministic parser, and the check of a model's reading.

The parser matches items against the catalogue by SKU code or by product name and never
guesses: an item that matches no product, or several equally, stays unmatched with a reason.
A model's reading (`OrderDraft`) is used only when the text supports every line of it (the SKU
or the product's name in the text, the quantity written there) and it finds what the parser
finds; otherwise the parser's reading wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from orchestrator.graphs.order_fulfilment.state import DraftLine, OrderDraft, Service

__all__ = [
    "CatalogueEntry",
    "match_item",
    "parse_order_text",
    "parse_service",
    "supported_by_text",
]

NUMBER_WORDS = {
    "a": 1,
    "an": 1,
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
    "eleven": 11,
    "twelve": 12,
    "dozen": 12,
    "fifteen": 15,
    "twenty": 20,
    "zero": 0,
    "no": 0,
}

STOPWORDS = frozenset(
    [
        "kit",
        "kits",
        "set",
        "sets",
        "pack",
        "packs",
        "box",
        "boxes",
        "of",
        "the",
        "please",
        "x",
        "pcs",
        "pieces",
        "piece",
        "units",
        "unit",
        "more",
        "some",
        "and",
        "with",
        "for",
        "our",
        "my",
        "new",
    ]
)

_SERVICE_PATTERNS: list[tuple[str, Service]] = [
    (r"next[\s-]?day|overnight", "next_day"),
    (r"express|expedited|priority", "express"),
    (r"ground|standard|regular|economy", "standard"),
]
_SERVICE_PHRASE = re.compile(
    r"(?:,|;)?\s*(?:ship(?:ped|ping)?|send|deliver(?:y)?|via|by)?\s*(?:it\s+|them\s+)?(?:via\s+|by\s+)?"
    r"(next[\s-]?day|overnight|express|expedited|priority|ground|standard|regular|economy)"
    r"(?:\s+(?:shipping|delivery|service))?",
    re.IGNORECASE,
)
_SHIP_TO = re.compile(
    r"\b(?:ship(?:ped)?\s+to|deliver(?:ed)?\s+to|send\s+(?:it\s+|them\s+)?to|to)\s+"
    r"([^,;\n]+?)\s*(?=[,;\n]|$)",
    re.IGNORECASE,
)
_SKU = re.compile(r"\b[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+\b")
_QTY_SUFFIX = re.compile(r"^(?P<item>.+?)\s*(?:[x×:*]\s*|qty\s*)(?P<qty>-?\d+)$", re.IGNORECASE)
_QTY_PREFIX = re.compile(r"^(?P<qty>-?\d+)\s*[x×]?\s+(?P<item>.+)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """A product as the matcher sees it."""

    sku: str
    name: str

    @property
    def tokens(self) -> frozenset[str]:
        """Words of the name and segments of the SKU, lower case and singular."""
        words = re.findall(r"[a-z0-9]+", f"{self.name} {self.sku.replace('-', ' ')}".lower())
        return frozenset(_singular(w) for w in words)


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 2 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _word_matches(word: str, tokens: frozenset[str]) -> bool:
    if word in tokens:
        return True
    # a SKU segment such as "ard" or "rpi" abbreviates a longer word ("arduino")
    return any(len(t) >= 3 and not t.isdigit() and word.startswith(t) for t in tokens)


def match_item(item: str, catalogue: Sequence[CatalogueEntry]) -> tuple[str | None, str]:
    """The SKU `item` names, or None and why not (unknown, or ambiguous).

    An exact SKU code wins. Otherwise every distinctive word of the item must be in one
    product's name or SKU, and in no other product's as completely: no guessing.
    """
    by_sku = {entry.sku.upper(): entry for entry in catalogue}
    for code in _SKU.findall(item):
        if code.upper() in by_sku:
            return by_sku[code.upper()].sku, ""
    words = [
        _singular(w)
        for w in re.findall(r"[a-z0-9]+", item.lower())
        if w not in STOPWORDS and not w.isdigit()
    ]
    words = [w for w in words if w not in STOPWORDS]
    if not words:
        return None, f"{item.strip()!r} names no product"
    full = [e for e in catalogue if all(_word_matches(w, e.tokens) for w in words)]
    if len(full) == 1:
        return full[0].sku, ""
    if len(full) > 1:
        skus = ", ".join(sorted(e.sku for e in full)[:5])
        return None, f"{item.strip()!r} matches several products ({skus}); name the SKU"
    for code in _SKU.findall(item):
        return None, f"unknown SKU {code!r}"
    return None, f"no product in the catalogue matches {item.strip()!r}"


def parse_service(text: str) -> Service | None:
    """The shipping service a text asks for (`ground` is `standard`), or None."""
    for pattern, service in _SERVICE_PATTERNS:
        if re.search(pattern, text, re.IGNORECASE):
            return service
    return None


def _quantity(chunk: str) -> tuple[int | None, str]:
    chunk = chunk.strip().strip(".!")
    m = _QTY_PREFIX.match(chunk)
    if m:
        return int(m["qty"]), m["item"]
    m = _QTY_SUFFIX.match(chunk)
    if m:
        return int(m["qty"]), m["item"]
    first, _, rest = chunk.partition(" ")
    if first.lower() in NUMBER_WORDS and rest:
        return NUMBER_WORDS[first.lower()], rest
    return None, chunk


def parse_order_text(
    text: str, catalogue: Sequence[CatalogueEntry]
) -> tuple[OrderDraft, list[str]]:
    """Read an order from text without a model: the draft, and a reason per unread item.

    Example:
        >>> draft, problems = parse_order_text(
        ...     "3 ARD-UNO-001 and 10 breadboards to Lincoln High, ship ground", catalogue)
        >>> [(l.sku, l.qty) for l in draft.lines], draft.ship_to, draft.service
        ([('ARD-UNO-001', 3), (None, 10)], 'Lincoln High', 'standard')
    """
    service = parse_service(text) or "standard"
    rest = _SERVICE_PHRASE.sub(" ", text)
    ship_to = ""
    found = list(_SHIP_TO.finditer(rest))
    if found:
        last = found[-1]
        ship_to = last.group(1).strip()
        rest = rest[: last.start()] + rest[last.end() :]
    problems: list[str] = []
    lines: list[DraftLine] = []
    chunks = re.split(r",|;|\n|\+|\band\b|&", rest, flags=re.IGNORECASE)
    for raw in chunks:
        chunk = re.sub(
            r"^\s*(?:please\s+)?(?:send|order|ship|i\s+(?:want|need)|we\s+need)\s+",
            "",
            raw.strip(),
            flags=re.IGNORECASE,
        )
        if not chunk.strip(" ."):
            continue
        qty, item = _quantity(chunk)
        if qty is None:
            problems.append(f"no quantity for {chunk.strip()!r}")
            continue
        sku, why = match_item(item, catalogue)
        if sku is None:
            problems.append(why)
        lines.append(DraftLine(item=item.strip(), sku=sku, qty=qty))
    return OrderDraft(lines=lines, ship_to=ship_to, service=service), problems


def _numbers_in(text: str) -> set[int]:
    found = {int(n) for n in re.findall(r"-?\d+", text)}
    found |= {NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in NUMBER_WORDS}
    return found


def supported_by_text(
    proposal: OrderDraft,
    text: str,
    parsed: OrderDraft,
    catalogue: Iterable[CatalogueEntry],
) -> str | None:
    """Why the model's reading is not supported by the text, or None when it is.

    Every line's SKU must be one the parser matched in the text or be written in it, and its
    quantity must be written in the text; the model must find every product the parser found;
    the service and ship-to must be in the text (or be the defaults).
    """
    known = {e.sku for e in catalogue}
    numbers = _numbers_in(text)
    parsed_skus = {line.sku for line in parsed.lines if line.sku}
    if not proposal.lines:
        return "the model read no items"
    for line in proposal.lines:
        if line.sku is None:
            continue
        if line.sku not in known:
            return f"the model named {line.sku!r}, which is not in the catalogue"
        if line.sku not in parsed_skus and line.sku.lower() not in text.lower():
            return f"the text does not name {line.sku}"
        if line.qty not in numbers:
            return f"the text does not say {line.qty} of {line.sku}"
    model_skus = {line.sku for line in proposal.lines if line.sku}
    if not parsed_skus <= model_skus:
        return f"the model missed {', '.join(sorted(parsed_skus - model_skus))}"
    if proposal.service != "standard" and parse_service(text) != proposal.service:
        return f"the text does not ask for {proposal.service}"
    if proposal.ship_to and proposal.ship_to.lower() not in text.lower():
        return f"the text does not say to ship to {proposal.ship_to!r}"
    return None
