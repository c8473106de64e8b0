"""Knowledge-base retrieval quality and speed: recall@1/3/5 for dense, keyword and hybrid search.

Ingests the shipped SOP documents into a fresh Chroma store (a temporary directory) with each
embedder asked for, runs the question set (benchmarks/data/kb_questions.jsonl: questions as
customers and staff phrase them, each with the document that answers it), and prints, per
embedder and mode, recall@k (the share of questions whose expected document is among the top
k hits), the mean reciprocal rank, and the time to ingest and to answer a query. The `hash`
embedder (lexical feature hashing, no model) is the baseline a real embedder must beat.

    .venv/bin/python benchmarks/kb_retrieval.py                      # minilm-onnx and hash
    .venv/bin/python benchmarks/kb_retrieval.py --embedders minilm-onnx --json

Nothing is downloaded: the embedders are the offline ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from orchestrator.memory import ChromaStore, KnowledgeBase, builtin_documents, make_embeddings

QUESTIONS = Path(__file__).parent / "data" / "kb_questions.jsonl"
MODES = ("dense", "keyword", "hybrid")


def load_questions(path: Path = QUESTIONS) -> list[tuple[str, str]]:
    """(question, expected source) pairs."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [(row["question"], row["source"]) for row in rows]


def evaluate(kb: KnowledgeBase, questions: list[tuple[str, str]], mode: str) -> dict[str, float]:
    """recall@1/3/5, MRR@5 and seconds per query for one mode."""
    started = time.perf_counter()
    results = kb.search_many([q for q, _ in questions], k=5, mode=mode)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    ranks: list[int | None] = []
    for (_, expected), result in zip(questions, results, strict=True):
        sources = list(dict.fromkeys(hit.source for hit in result.hits))
        ranks.append(sources.index(expected) + 1 if expected in sources else None)
    n = len(questions)
    out = {f"recall@{k}": sum(r is not None and r <= k for r in ranks) / n for k in (1, 3, 5)}
    out["mrr@5"] = sum(1 / r for r in ranks if r is not None) / n
    out["ms_per_query"] = 1000 * elapsed / n
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedders", nargs="+", default=["minilm-onnx", "hash"])
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--json", action="store_true", help="one JSON object per embedder x mode")
    args = parser.parse_args(argv)
    questions = load_questions(args.questions)
    print(f"{len(questions)} questions, {len(builtin_documents())} documents", file=sys.stderr)
    for spec in args.embedders:
        with tempfile.TemporaryDirectory() as tmp:
            embeddings = make_embeddings(spec)
            store = ChromaStore(path=tmp, index={"embed": embeddings, "fields": ["content"]})
            kb = KnowledgeBase(store)
            started = time.perf_counter()
            report = kb.ingest(builtin_documents())
            ingest_s = time.perf_counter() - started
            chunks = sum(f.chunks for f in report.files)
            for mode in MODES:
                figures = evaluate(kb, questions, mode)
                row = {"embedder": spec, "mode": mode, "chunks": chunks, "ingest_s": ingest_s}
                row.update(figures)
                if args.json:
                    print(json.dumps(row))
                else:
                    print(
                        f"{spec:12} {mode:8} recall@1 {figures['recall@1']:.3f}  "
                        f"recall@3 {figures['recall@3']:.3f}  recall@5 {figures['recall@5']:.3f}  "
                        f"MRR@5 {figures['mrr@5']:.3f}  {figures['ms_per_query']:.1f} ms/query  "
                        f"(ingest {chunks} chunks in {ingest_s:.1f} s)"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
