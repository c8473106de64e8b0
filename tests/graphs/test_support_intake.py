"""The support intake: the deterministic reading of a message and the check of a proposal."""

from __future__ import annotations

from orchestrator.graphs.support import CustomerRequest, parse_request, validate_proposal


def test_parse_request_reads_ids_and_intent() -> None:
    assert parse_request("where is my order #42?") == CustomerRequest(
        intent="order_status", order_id=42
    )
    assert parse_request("please cancel order 7") == CustomerRequest(
        intent="cancel_order", order_id=7
    )
    assert parse_request("is ARD-UNO-001 in stock?") == CustomerRequest(
        intent="stock_question", sku="ARD-UNO-001"
    )
    assert parse_request("hello there").intent == "other"


def test_validate_proposal_overrules_invented_ids() -> None:
    message = "where is my order #42?"
    decided, verdict = validate_proposal(
        message, CustomerRequest(intent="cancel_order", order_id=9)
    )
    assert decided == CustomerRequest(intent="order_status", order_id=42)
    assert "order_id 9 is not in the message" in verdict
    assert "intent 'cancel_order' disagrees" in verdict


def test_validate_proposal_drops_an_invented_field_but_keeps_the_intent() -> None:
    message = "where is my order #42?"
    decided, verdict = validate_proposal(
        message, CustomerRequest(intent="order_status", order_id=42, sku="MADE-UP-1")
    )
    assert decided == CustomerRequest(intent="order_status", order_id=42)
    assert verdict.startswith("accepted") and "'MADE-UP-1' is not in the message" in verdict


def test_validate_proposal_refuses_an_intent_without_its_id() -> None:
    decided, verdict = validate_proposal(
        "hello there", CustomerRequest(intent="other", order_id=None)
    )
    assert (decided.intent, verdict) == ("other", "accepted")
    decided, verdict = validate_proposal(
        "cancel it please", CustomerRequest(intent="cancel_order", order_id=None)
    )
    assert decided.intent == "other" and verdict.startswith("overruled")


def test_validate_proposal_accepts_a_faithful_reading() -> None:
    proposal = CustomerRequest(intent="order_status", order_id=42)
    assert validate_proposal("where is my order #42?", proposal) == (proposal, "accepted")
