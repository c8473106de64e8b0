"""CLI commands: `orchestrator kb ingest` and `orchestrator kb search`.

Both use the Chroma store `settings.memory` names (`ORCH_MEMORY__PATH`, or a server at
`ORCH_MEMORY__SERVER_URL`) and its embedder (`ORCH_MEMORY__EMBEDDING`); `--path` overrides
the directory.

Errors follow the CLI's rule (`orchestrator.cli._failures`): one line, exit 2 for a usage
error (no documents named, an empty knowledge base, a missing file).

`kb search --json` prints one JSON list with one object per query, in input order:
`[{"query": ..., "hits": [{"source": file name, "heading": ..., "score": ..., "text": ...}]}]`.
`kb ingest --json` prints one JSON object per line, one per file:
`{"source": ..., "status": "added" | "replaced" | "unchanged", "chunks": n}`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from orchestrator.memory.kb import KnowledgeBase

kb_app = typer.Typer(
    name="kb",
    help="The SOP / policy knowledge base: ingest documents and search them.",
    no_args_is_help=True,
)

_PATH_OPTION = typer.Option(
    None, "--path", help="Embedded Chroma directory; default ORCH_MEMORY__PATH."
)


def _open(path: Path | None, mode: str = "dense") -> KnowledgeBase:
    from orchestrator.cli._common import settings_for
    from orchestrator.memory import KnowledgeBase

    settings = settings_for()
    if path is not None:
        settings = settings.model_copy(
            update={"memory": settings.memory.model_copy(update={"path": path})}
        )
    return KnowledgeBase.from_settings(settings, mode=mode)  # type: ignore[arg-type]


@kb_app.command("ingest")
def ingest(
    paths: list[Path] = typer.Argument(
        None, help="Markdown or text files, or directories of them."
    ),
    builtin: bool = typer.Option(
        False, "--builtin", help="Also ingest the SOP documents shipped with orchestrator."
    ),
    path: Path | None = _PATH_OPTION,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file."),
) -> None:
    """Ingest documents; unchanged files are skipped, changed ones replaced."""
    from orchestrator import ConfigError
    from orchestrator.memory import builtin_documents

    kb = _open(path)
    targets: list[Path] = list(paths or [])
    if builtin:
        targets = [*builtin_documents(), *targets]
    if not targets:
        raise ConfigError(
            "kb ingest: no documents named; give files or directories, or pass --builtin"
        )
    report = kb.ingest(targets)
    for item in report.files:
        if as_json:
            typer.echo(item.model_dump_json())
        else:
            typer.echo(f"{item.status:9} {item.source} ({item.chunks} chunks)")


@kb_app.command("search")
def search(
    query: str | None = typer.Argument(None, help="The question."),
    k: int = typer.Option(3, "--k", min=1, max=50, help="Passages per question."),
    queries: Path | None = typer.Option(
        None, "--queries", help="A file with one question a line (instead of QUERY)."
    ),
    mode: str = typer.Option("dense", "--mode", help="dense (default), keyword or hybrid."),
    path: Path | None = _PATH_OPTION,
    as_json: bool = typer.Option(False, "--json", help="A JSON list, one object per query."),
) -> None:
    """Find the passages that answer a question (or each question of a file)."""
    from orchestrator import ConfigError

    if mode not in ("dense", "keyword", "hybrid"):
        raise ConfigError(f"kb search: --mode {mode!r} is not dense, keyword or hybrid")
    kb = _open(path, mode)
    if (query is None) == (queries is None):
        raise ConfigError("kb search: give either a QUERY or --queries FILE")
    if queries is not None:
        asked = [
            line.strip()
            for line in queries.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        if not asked:
            raise ConfigError(f"kb search: {queries} has no questions; write one a line")
    else:
        asked = [str(query)]
    if not kb.sources():
        raise ConfigError(
            "kb search: the knowledge base is empty; run `orchestrator kb ingest --builtin` "
            "or ingest your own documents first"
        )
    results = kb.search_many(asked, k=k)
    if as_json:
        typer.echo(json.dumps([r.model_dump() for r in results], ensure_ascii=False))
        return
    for result in results:
        typer.secho(result.query, bold=True)
        for hit in result.hits:
            text = " ".join(hit.text.split())
            typer.echo(f"  {hit.score:.3f}  {hit.source} | {hit.heading}")
            typer.echo(f"         {text[:200]}{'...' if len(text) > 200 else ''}")


def register(app: typer.Typer) -> None:
    """Add the `kb` command group to the root app."""
    app.add_typer(kb_app)
