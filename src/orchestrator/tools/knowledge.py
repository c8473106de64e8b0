"""Knowledge tools: search the shop's SOP and policy documents.

The tool reads `ctx.knowledge`, any object with `search(query, *, k)` (normally
`orchestrator.memory.KnowledgeBase`), so that an agent can answer "what is the policy" questions
from the documents and cite them. Without a knowledge base in the run context the tool refuses
with `PermissionDenied` (the model sees it and can say it cannot look the policy up).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, Field

from orchestrator.errors import PermissionDenied
from orchestrator.tools._core import ToolContext, tool

__all__ = ["TOOLS", "KnowledgePassage", "KnowledgeSearchResult", "search_knowledge_base"]


class KnowledgePassage(BaseModel):
    """One passage of a document."""

    source: str
    """The document's file name, to cite."""
    heading: str
    """The headings above the passage, outermost first."""
    score: float
    """Relevance; higher is better."""
    text: str


class KnowledgeSearchResult(BaseModel):
    """The query and its passages, best first (the shape of `orchestrator kb search --json`)."""

    query: str
    hits: list[KnowledgePassage] = Field(default_factory=list)


def _passage(hit: Any) -> KnowledgePassage:
    if isinstance(hit, Mapping):
        return KnowledgePassage.model_validate(dict(hit))
    return KnowledgePassage(
        source=hit.source, heading=hit.heading, score=float(hit.score), text=hit.text
    )


@tool(access="read", scope="knowledge")
def search_knowledge_base(
    ctx: ToolContext,
    query: Annotated[str, Field(min_length=3, max_length=500)],
    k: Annotated[int, Field(ge=1, le=10)] = 3,
) -> KnowledgeSearchResult:
    """Search the shop's policy and procedure documents; cite each passage's source.

    Args:
        query: the question in plain words, e.g. "refund for a parcel that never arrived".
        k: how many passages to return (1-10).
    """
    if ctx.knowledge is None:
        raise PermissionDenied(
            ctx.agent,
            "search_knowledge_base",
            "no knowledge base is configured for this run (ToolContext.knowledge is None); "
            "answer without the policy documents or hand the question to a human",
        )
    hits = ctx.knowledge.search(query, k=k)
    return KnowledgeSearchResult(query=query, hits=[_passage(hit) for hit in hits])


TOOLS = [search_knowledge_base]
