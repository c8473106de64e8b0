"""The knowledge base: chunking with headings, idempotent ingest, search shape, recall floor."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator import InvalidInput, load_settings
from orchestrator.cli import app
from orchestrator.memory import (
    ChromaStore,
    HashEmbeddings,
    KnowledgeBase,
    builtin_documents,
    knowledge_ns,
)
from orchestrator.memory.kb import split_document

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"
RECALL_AT_3_FLOOR = 0.9
"""The issue's target for the default embedder; benchmarks/kb_retrieval.py prints the figure."""

DOC = """# Widget policy

Intro line about widgets.

## Returns

Widgets can be returned within 30 days.

## Shipping

### Abroad

Widgets ship abroad in 7 days.
"""


def _kb(tmp_path: Path, **kw: object) -> KnowledgeBase:
    store = ChromaStore(
        path=tmp_path / "chroma", index={"embed": HashEmbeddings(), "fields": ["content"]}
    )
    return KnowledgeBase(store, **kw)  # type: ignore[arg-type]


def test_builtin_documents_cover_the_policy_set() -> None:
    names = {p.name for p in builtin_documents()}
    assert names == {
        "cancellations.md",
        "damaged-goods.md",
        "education-accounts.md",
        "perishables.md",
        "personal-data.md",
        "purchase-order-approvals.md",
        "returns-and-refunds.md",
        "shipping-and-lost-parcels.md",
        "stock-adjustments-and-cycle-counts.md",
        "supplier-escalation.md",
    }


def test_the_documents_agree_with_the_approval_settings() -> None:
    approvals = load_settings().approvals
    text = {p.name: p.read_text() for p in builtin_documents()}
    assert (
        f"Refunds above {approvals.refund_amount}.00 need a human approval"
        in text["returns-and-refunds.md"]
    )
    assert (
        f"more than {approvals.adjustment_units} units"
        in text["stock-adjustments-and-cycle-counts.md"]
    )
    assert (
        f"Above {int(approvals.purchase_order_value):,}.00 the system holds"
        in text["purchase-order-approvals.md"]
    )


def test_chunks_keep_their_headings() -> None:
    chunks = split_document(DOC, title="Widget policy")
    assert [c.heading for c in chunks] == [
        "Widget policy",
        "Widget policy > Returns",
        "Widget policy > Shipping > Abroad",
    ]
    assert chunks[1].content == "Widget policy > Returns\nWidgets can be returned within 30 days."
    plain = split_document("just text, no headings", title="Notes")
    assert [(c.heading, c.text) for c in plain] == [("Notes", "just text, no headings")]


def test_ingest_is_idempotent_and_replaces_a_changed_file(tmp_path: Path) -> None:
    kb = _kb(tmp_path)
    doc = tmp_path / "widgets.md"
    doc.write_text(DOC)
    first = kb.ingest([doc])
    assert [(f.source, f.status, f.chunks) for f in first.files] == [("widgets.md", "added", 3)]
    assert kb.ingest([doc]).unchanged == 1
    doc.write_text("# Widget policy\n\n## Returns\n\nWidgets can be returned within 60 days.\n")
    again = kb.ingest([doc])
    assert [(f.status, f.chunks) for f in again.files] == [("replaced", 1)]
    items = kb.store.search(knowledge_ns(), limit=100)
    assert [i.key for i in items] == ["widgets.md#000"]
    assert "60 days" in items[0].value["text"]
    hits = kb.search("how many days to return a widget", k=3)
    assert len(hits) == 1 and "60 days" in hits[0].text


def test_ingest_refuses_missing_and_foreign_files(tmp_path: Path) -> None:
    kb = _kb(tmp_path)
    with pytest.raises(InvalidInput, match="no such file"):
        kb.ingest([tmp_path / "nope.md"])
    (tmp_path / "a.pdf").write_bytes(b"%PDF")
    with pytest.raises(InvalidInput, match="only markdown"):
        kb.ingest([tmp_path / "a.pdf"])


def test_search_shape_and_modes(tmp_path: Path) -> None:
    kb = _kb(tmp_path)
    kb.ingest(builtin_documents())
    assert len(kb.sources()) == 10
    for mode in ("dense", "keyword", "hybrid"):
        hits = kb.search("refund to the original payment method", k=2, mode=mode)  # type: ignore[arg-type]
        assert len(hits) == 2
        assert hits[0].source == "returns-and-refunds.md"
        assert hits[0].heading.startswith("Returns and refunds > ")
        assert hits[0].score >= hits[1].score
    results = kb.search_many(["cycle count tolerance", "chiller temperature"], k=1)
    assert [r.query for r in results] == ["cycle count tolerance", "chiller temperature"]
    assert set(results[0].model_dump()) == {"query", "hits"}
    assert set(results[0].hits[0].model_dump()) == {"source", "heading", "score", "text"}
    with pytest.raises(InvalidInput, match="1 to 50"):
        kb.search("x", k=0)
    with pytest.raises(InvalidInput, match="empty"):
        kb.search("  ")


def test_recall_floor_with_the_default_embedder(minilm_kb: KnowledgeBase) -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from kb_retrieval import evaluate, load_questions
    finally:
        sys.path.remove(str(BENCHMARKS))
    questions = load_questions()
    assert len(questions) >= 40
    figures = evaluate(minilm_kb, questions, minilm_kb.mode)
    assert figures["recall@3"] >= RECALL_AT_3_FLOOR, figures


def test_kb_cli_ingest_and_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_MEMORY__EMBEDDING", "hash")
    path = str(tmp_path / "chroma")
    runner = CliRunner()
    empty = runner.invoke(app, ["kb", "search", "refund", "--path", path])
    assert empty.exit_code == 2 and "kb ingest --builtin" in empty.output
    done = runner.invoke(app, ["kb", "ingest", "--builtin", "--path", path, "--json"])
    assert done.exit_code == 0, done.output
    rows = [json.loads(line) for line in done.output.splitlines()]
    assert {r["status"] for r in rows} == {"added"} and len(rows) == 10
    again = runner.invoke(app, ["kb", "ingest", "--builtin", "--path", path])
    assert again.output.count("unchanged") == 10
    queries = tmp_path / "q.txt"
    queries.write_text("refund to my card\n\nchiller temperature log\n")
    out = runner.invoke(
        app, ["kb", "search", "--queries", str(queries), "--k", "2", "--json", "--path", path]
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert [d["query"] for d in data] == ["refund to my card", "chiller temperature log"]
    assert all(len(d["hits"]) == 2 for d in data)
    assert set(data[0]["hits"][0]) == {"source", "heading", "score", "text"}
    text = runner.invoke(app, ["kb", "search", "refund to my card", "--path", path])
    assert text.exit_code == 0 and "returns-and-refunds.md" in text.output
    both = runner.invoke(app, ["kb", "search", "x", "--queries", str(queries), "--path", path])
    assert both.exit_code == 2 and "either a QUERY or --queries" in both.output
    nothing = runner.invoke(app, ["kb", "ingest", "--path", path])
    assert nothing.exit_code == 2 and "--builtin" in nothing.output


def test_the_knowledge_tool_reads_a_real_knowledge_base(minilm_kb: KnowledgeBase) -> None:
    from types import SimpleNamespace

    from orchestrator.tools import KnowledgeSource, ToolContext, invoke

    assert isinstance(minilm_kb, KnowledgeSource)
    ctx = ToolContext(
        service=SimpleNamespace(settings=load_settings()), agent="analyst", knowledge=minilm_kb
    )  # type: ignore[arg-type]
    result = invoke(
        ctx, "search_knowledge_base", {"query": "who signs off a 12k supplier order?", "k": 3}
    )
    sources = [hit.source for hit in result.hits]  # type: ignore[attr-defined]
    assert "purchase-order-approvals.md" in sources
    assert result.model_dump()["query"] == "who signs off a 12k supplier order?"
