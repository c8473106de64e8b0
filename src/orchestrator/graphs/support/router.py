"""The support router: specialists that say how well they can handle a message, and a vote.

Every specialist implements `can_handle(message, context) -> (bool, confidence)` from the
message's own words (keywords, order ids, SKUs). The model's structured intent is at most one
vote (+`MODEL_VOTE` for the specialist it names, and only when the ids it copies are really in
the message: a small model invents them), and so is the optional nearest-neighbour classifier
over labelled example utterances (`ExampleClassifier`, with the offline embedder). The highest
confidence wins; below `MIN_CONFIDENCE`, or two specialists within `TIE_MARGIN`, the router asks
one clarifying question, and escalates if the next message is still unclear.

Example:
    >>> decide(read_message("where is my order #42?"), RouterContext()).specialist
    'orders'
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

__all__ = [
    "INTENTS",
    "MIN_CONFIDENCE",
    "MODEL_VOTE",
    "SPECIALISTS",
    "TIE_MARGIN",
    "EscalationSpecialist",
    "ExampleClassifier",
    "Intent",
    "IntentVote",
    "KnowledgeSpecialist",
    "OrdersSpecialist",
    "ProductsSpecialist",
    "Reading",
    "RouteDecision",
    "RouterContext",
    "Specialist",
    "SpecialistName",
    "decide",
    "read_message",
]

Intent = Literal[
    "order_status",
    "cancel_order",
    "modify_order",
    "return_item",
    "stock_question",
    "product_search",
    "similar_items",
    "discount",
    "shipping_cost",
    "policy_question",
    "human",
    "other",
]
SpecialistName = Literal["orders", "products", "knowledge", "escalation"]

INTENTS: dict[str, SpecialistName | None] = {
    "order_status": "orders",
    "cancel_order": "orders",
    "modify_order": "orders",
    "return_item": "orders",
    "stock_question": "products",
    "product_search": "products",
    "similar_items": "products",
    "discount": "products",
    "shipping_cost": "products",
    "policy_question": "knowledge",
    "human": "escalation",
    "other": None,
}
"""Each intent and the specialist that handles it (`other`: none)."""

MIN_CONFIDENCE = 0.5
"""Below this the router asks a clarifying question (then escalates)."""
TIE_MARGIN = 0.05
"""Two specialists this close are a tie: the router asks which one the customer means."""
MODEL_VOTE = 0.15
"""What the model's intent adds to the specialist it names (never enough alone)."""
EXAMPLE_VOTE = 0.1
"""What the nearest-neighbour classifier adds to the specialist of its nearest examples."""

_ORDER_RE = re.compile(r"(?:\border\s*(?:no\.?|number|id|#)?\s*#?|#)\s*(\d{1,9})\b", re.IGNORECASE)
_SKU_RE = re.compile(r"\b[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+\b")
_QTY_SKU_RE = re.compile(
    r"\b(\d{1,4})\s*(?:x|units? of|pcs of|of)?\s*([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)\b"
)
_SKU_QTY_RE = re.compile(r"\b([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)\s*(?:x|\*|:)\s*(\d{1,4})\b")
_COUNTRY_RE = re.compile(r"\bto\s+([A-Z]{2})\b")
_COUNTRIES = {
    "france": "FR",
    "germany": "DE",
    "spain": "ES",
    "italy": "IT",
    "ireland": "IE",
    "netherlands": "NL",
    "usa": "US",
    "united states": "US",
    "america": "US",
    "canada": "CA",
    "uk": "GB",
    "united kingdom": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
}


def _any(text: str, *patterns: str) -> bool:
    return any(re.search(p, text) for p in patterns)


@dataclass(frozen=True)
class Reading:
    """What code reads in a message: the ids and quantities written in it, and its keywords."""

    message: str
    order_ids: tuple[int, ...] = ()
    skus: tuple[str, ...] = ()
    lines: tuple[tuple[str, int], ...] = ()
    """`(sku, qty)` pairs written as "2 x SKU" or "SKU x 2"."""
    country: str | None = None
    intents: tuple[Intent, ...] = ()
    """The intents the keywords suggest, strongest first."""

    @property
    def order_id(self) -> int | None:
        """The first order id written in the message."""
        return self.order_ids[0] if self.order_ids else None

    @property
    def sku(self) -> str | None:
        """The first SKU written in the message."""
        return self.skus[0] if self.skus else None


def read_message(message: str) -> Reading:
    """The deterministic reading of a customer message."""
    text = message.lower()
    order_ids = tuple(dict.fromkeys(int(m) for m in _ORDER_RE.findall(message)))
    skus = tuple(dict.fromkeys(_SKU_RE.findall(message)))
    lines: dict[str, int] = {}
    for qty, sku in _QTY_SKU_RE.findall(message):
        lines.setdefault(sku, int(qty))
    for sku, qty in _SKU_QTY_RE.findall(message):
        lines.setdefault(sku, int(qty))
    country = None
    match = _COUNTRY_RE.search(message)
    if match:
        country = match.group(1)
    else:
        for name, code in _COUNTRIES.items():
            if re.search(rf"\b{name}\b", text):
                country = code
                break
    intents: list[Intent] = []
    policy = _any(
        text,
        r"\bpolicy\b",
        r"\bpolicies\b",
        r"\bhow long\b",
        r"\bhow do (i|you)\b",
        r"\bwhat happens\b",
        r"\bwhat (is|are) (your|the)\b.*\b(rule|policy|process|procedure)",
        r"\bam i allowed\b",
        r"\bdo you (accept|refund|replace|offer)\b",
        r"\b(personal data|privacy|gdpr|my data)\b",
        r"\b(lost|never arrived|not arrived|hasn't arrived|missing) (parcel|package)\b",
        r"\b(parcel|package) (is |was )?(lost|missing|never arrived)\b",
        r"\bperishable",
        r"\b(education|school) account\b",
        r"\bwarranty\b",
    )
    if re.search(r"\bcancel", text):
        intents.append("cancel_order")
    if _any(text, r"\breturn", r"\bsend (it|them) back\b", r"\brefund"):
        intents.append("return_item")
    if _any(
        text,
        r"\b(change|modify|update|amend|swap|reduce|increase)\b.*\border\b",
        r"\border\b.*\b(change|modify|update|amend|swap|reduce|increase)\b",
        r"\b(change|modify) (it|the quantity|quantities)\b",
    ):
        intents.append("modify_order")
    if _any(
        text,
        r"\bwhere('s| is)\b",
        r"\bstatus\b",
        r"\btrack",
        r"\bwhen will\b",
        r"\bhas (it|my order) (shipped|been shipped)\b",
        r"\bmy orders?\b",
    ):
        intents.append("order_status")
    if policy:
        intents.append("policy_question")
    if _any(text, r"\bsimilar\b", r"\balternatives?\b", r"\bsubstitute", r"\bsomething like\b"):
        intents.append("similar_items")
    if _any(text, r"\bdiscount", r"\bcoupon", r"\bpromo", r"\beligible\b", r"\bcheaper\b"):
        intents.append("discount")
    if _any(
        text,
        r"\bshipping (cost|price|fee|rate)s?\b",
        r"\bhow much (is|does|for|would) (the )?(shipping|delivery|postage)\b",
        r"\b(delivery|postage) (cost|price|fee|charge)s?\b",
        r"\bcost to (ship|send|deliver)\b",
        r"\bship(ping)? to\b",
    ):
        intents.append("shipping_cost")
    if _any(
        text,
        r"\bin stock\b",
        r"\bavailab",
        r"\bstock\b",
        r"\bhave any\b",
        r"\bhow many\b.*\b(left|have)\b",
    ):
        intents.append("stock_question")
    if _any(
        text,
        r"\bdo you (sell|have|carry|stock)\b",
        r"\blooking for\b",
        r"\brecommend",
        r"\bsearch\b",
        r"\bfind (me )?(a|an|some)\b",
        r"\bneed (a|an|some)\b",
    ):
        intents.append("product_search")
    if _any(
        text,
        r"\b(human|person|real agent|manager|supervisor|representative|someone)\b",
        r"\bspeak to\b",
        r"\btalk to\b",
        r"\bcomplain",
        r"\bunacceptable\b",
        r"\blawyer\b",
    ):
        intents.append("human")
    return Reading(
        message=message,
        order_ids=order_ids,
        skus=skus,
        lines=tuple(lines.items()),
        country=country,
        intents=tuple(intents),
    )


@dataclass(frozen=True)
class RouterContext:
    """What the router knows besides the message (from the thread's state)."""

    customer_id: int | None = None
    pending_intent: str | None = None
    """The intent of the previous turn that still needs something (an order id, a SKU)."""
    clarifications: int = 0
    """Clarifying questions already asked in a row."""
    last_order_id: int | None = None
    last_sku: str | None = None


class Specialist(Protocol):
    """One specialist of the support router."""

    @property
    def name(self) -> SpecialistName:
        """The specialist's node name."""
        ...

    @property
    def intents(self) -> tuple[Intent, ...]:
        """The intents it handles."""
        ...

    def can_handle(self, reading: Reading, context: RouterContext) -> tuple[bool, float]:
        """Whether this specialist can handle the message, and how sure it is (0-1)."""
        ...


@dataclass(frozen=True)
class OrdersSpecialist:
    """Order status, modification, cancellation and returns of the customer's own orders."""

    name: SpecialistName = "orders"
    intents: tuple[Intent, ...] = ("order_status", "cancel_order", "modify_order", "return_item")

    def can_handle(self, reading: Reading, context: RouterContext) -> tuple[bool, float]:
        """Sure with an order id and an order keyword; less so with only one of them."""
        mine = [i for i in reading.intents if i in self.intents]
        has_id = reading.order_id is not None
        if mine and has_id:
            return True, 0.9
        if has_id:
            return True, 0.7
        if context.pending_intent in self.intents and reading.order_ids:
            return True, 0.85
        if mine:
            policy = "policy_question" in reading.intents
            return True, 0.45 if policy else 0.6
        if re.search(r"\border", reading.message.lower()):
            return True, 0.4
        return False, 0.0


@dataclass(frozen=True)
class ProductsSpecialist:
    """Product search, stock, similar items, discount eligibility and shipping cost."""

    name: SpecialistName = "products"
    intents: tuple[Intent, ...] = (
        "stock_question",
        "product_search",
        "similar_items",
        "discount",
        "shipping_cost",
    )

    def can_handle(self, reading: Reading, context: RouterContext) -> tuple[bool, float]:
        """Sure with a SKU and a product keyword; less so with either alone."""
        mine = [i for i in reading.intents if i in self.intents]
        if mine and reading.sku:
            return True, 0.9
        if mine:
            if reading.order_id is not None and mine[0] != "shipping_cost":
                return True, 0.5
            return True, 0.7
        if reading.sku:
            return True, 0.6
        if context.pending_intent in self.intents and reading.skus:
            return True, 0.85
        return False, 0.0


@dataclass(frozen=True)
class KnowledgeSpecialist:
    """Policy and procedure questions, answered from the SOP knowledge base with citations."""

    name: SpecialistName = "knowledge"
    intents: tuple[Intent, ...] = ("policy_question",)

    def can_handle(self, reading: Reading, context: RouterContext) -> tuple[bool, float]:
        """Sure with policy words and no order id (an id makes it about one order)."""
        if "policy_question" not in reading.intents:
            return False, 0.0
        if reading.order_id is not None:
            return True, 0.5
        return True, 0.8


@dataclass(frozen=True)
class EscalationSpecialist:
    """A support ticket and a hand-off to a person."""

    name: SpecialistName = "escalation"
    intents: tuple[Intent, ...] = ("human",)

    def can_handle(self, reading: Reading, context: RouterContext) -> tuple[bool, float]:
        """Sure when the customer asks for a person or complains; otherwise the last resort."""
        if "human" in reading.intents:
            return True, 0.95
        return True, 0.05


SPECIALISTS: tuple[Specialist, ...] = (
    OrdersSpecialist(),
    ProductsSpecialist(),
    KnowledgeSpecialist(),
    EscalationSpecialist(),
)


class IntentVote(BaseModel):
    """What the model says a customer message asks for (one vote in the router)."""

    intent: Intent
    """One of the intents."""
    order_id: int | None = None
    """The order id written in the message, if any."""
    sku: str | None = Field(default=None, max_length=64)
    """The product SKU written in the message, if any."""


@dataclass(frozen=True)
class RouteDecision:
    """Where the router sends a message, and why."""

    specialist: SpecialistName | Literal["clarify"]
    intent: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)
    reason: str = ""


class ExampleClassifier:
    """Nearest neighbours over labelled example utterances, with any LangChain `Embeddings`.

    Args:
        embeddings: the embedder (the offline MiniLM by default in the graph).
        examples: `(utterance, intent)` pairs; default the shipped `EXAMPLES`.
        k: neighbours that vote.
    """

    def __init__(
        self,
        embeddings: Any,
        examples: Sequence[tuple[str, str]] | None = None,
        *,
        k: int = 3,
    ) -> None:
        self.embeddings = embeddings
        self.examples = list(examples if examples is not None else EXAMPLES)
        self.k = k
        self._vectors: list[list[float]] | None = None
        self._lock = threading.Lock()

    def classify(self, message: str) -> tuple[str, float]:
        """The majority intent of the `k` nearest examples and the mean cosine similarity."""
        import math

        if self._vectors is None:
            with self._lock:
                if self._vectors is None:
                    self._vectors = self.embeddings.embed_documents(
                        [text for text, _ in self.examples]
                    )
        query = self.embeddings.embed_query(message)

        def cosine(a: Sequence[float], b: Sequence[float]) -> float:
            dot = sum(x * y for x, y in zip(a, b, strict=False))
            norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
            return dot / norm if norm else 0.0

        ranked = sorted(
            (
                (cosine(query, vec), label)
                for vec, (_, label) in zip(self._vectors, self.examples, strict=True)
            ),
            reverse=True,
        )[: self.k]
        votes: dict[str, float] = {}
        for score, label in ranked:
            votes[label] = votes.get(label, 0.0) + score
        label = max(votes, key=lambda name: votes[name])
        similarity = votes[label] / max(1, sum(1 for _, lab in ranked if lab == label))
        return label, similarity


EXAMPLES: tuple[tuple[str, str], ...] = (
    ("where is my order", "order_status"),
    ("has my parcel shipped yet", "order_status"),
    ("what's the status of my purchase", "order_status"),
    ("please cancel my order", "cancel_order"),
    ("I don't want it anymore, stop the order", "cancel_order"),
    ("I'd like to return an item", "return_item"),
    ("it arrived broken and I want my money back", "return_item"),
    ("change the quantity on my order", "modify_order"),
    ("can I add another item to my order", "modify_order"),
    ("is this in stock", "stock_question"),
    ("how many do you have left", "stock_question"),
    ("do you sell soldering irons", "product_search"),
    ("I'm looking for a microcontroller board", "product_search"),
    ("what could I buy instead of this one", "similar_items"),
    ("am I eligible for a discount", "discount"),
    ("do schools get a better price", "discount"),
    ("how much is delivery to France", "shipping_cost"),
    ("what does shipping cost", "shipping_cost"),
    ("what is your returns policy", "policy_question"),
    ("what happens if my parcel gets lost", "policy_question"),
    ("how do you handle my personal data", "policy_question"),
    ("I want to talk to a real person", "human"),
    ("this is unacceptable, get me a manager", "human"),
    ("hello", "other"),
    ("thanks, bye", "other"),
)
"""Labelled example utterances for `ExampleClassifier` (customers' words, not the documents')."""


def decide(
    reading: Reading,
    context: RouterContext,
    *,
    model_vote: IntentVote | None = None,
    example_vote: tuple[str, float] | None = None,
    specialists: Sequence[Specialist] = SPECIALISTS,
) -> RouteDecision:
    """Combine the specialists' `can_handle`, the model's vote and the examples' vote.

    Args:
        reading: the message as code reads it.
        context: the thread's router context.
        model_vote: the model's (already checked) intent, or None.
        example_vote: the nearest-neighbour classifier's `(intent, similarity)`, or None.
        specialists: who competes.
    """
    scores: dict[str, float] = {}
    for specialist in specialists:
        able, confidence = specialist.can_handle(reading, context)
        if able:
            scores[specialist.name] = confidence
    reasons: list[str] = []
    if model_vote is not None:
        target = INTENTS.get(model_vote.intent)
        if target is not None and target in scores:
            scores[target] = min(1.0, scores[target] + MODEL_VOTE)
            reasons.append(f"model voted {model_vote.intent}")
    if example_vote is not None and example_vote[1] >= 0.5:
        target = INTENTS.get(example_vote[0])
        if target is not None and target in scores:
            scores[target] = min(1.0, scores[target] + EXAMPLE_VOTE)
            reasons.append(f"examples voted {example_vote[0]}")
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    best, confidence = ranked[0] if ranked else ("escalation", 0.0)
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    intent = _intent_for(best, reading, context, model_vote)
    rounded = {name: round(value, 2) for name, value in ranked}
    if best == "escalation" and confidence >= MIN_CONFIDENCE:
        return RouteDecision("escalation", "human", confidence, rounded, "asked for a person")
    if confidence < MIN_CONFIDENCE:
        why = f"not sure what the message asks (best {best} at {confidence:.2f})"
        return RouteDecision("clarify", "other", confidence, rounded, "; ".join([why, *reasons]))
    if confidence - runner_up < TIE_MARGIN:
        why = f"tie between {ranked[0][0]} and {ranked[1][0]}"
        return RouteDecision("clarify", "other", confidence, rounded, "; ".join([why, *reasons]))
    name: SpecialistName = best  # type: ignore[assignment]
    return RouteDecision(name, intent, confidence, rounded, "; ".join(reasons) or "rules")


def _intent_for(
    specialist: str, reading: Reading, context: RouterContext, vote: IntentVote | None
) -> str:
    mine = [i for i in reading.intents if INTENTS.get(i) == specialist]
    if mine:
        if specialist == "orders":
            # A write word beats a status word: "where is my order 5? cancel it" cancels.
            for write in ("cancel_order", "return_item", "modify_order"):
                if write in mine:
                    return write
        return mine[0]
    if context.pending_intent and INTENTS.get(context.pending_intent) == specialist:
        return context.pending_intent
    if vote is not None and INTENTS.get(vote.intent) == specialist:
        return vote.intent
    return {
        "orders": "order_status",
        "products": "stock_question",
        "knowledge": "policy_question",
        "escalation": "human",
    }[specialist]
