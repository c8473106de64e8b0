"""`orchestrator.testing`: the scripted model users test their graphs with; the network guard."""

from __future__ import annotations

import socket

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from pydantic import BaseModel

from orchestrator import BackendTimeout
from orchestrator.testing import ScriptedModel, ScriptExhausted


class Answer(BaseModel):
    value: int


def test_replays_in_order_and_records_calls() -> None:
    call = {"name": "get_stock", "args": {"sku": "A1"}, "id": "1"}
    model = ScriptedModel(responses=[AIMessage(content="", tool_calls=[call]), "done"])
    bound = model.bind_tools(["a tool"], tool_choice="required")
    assert bound is model
    first = bound.invoke([HumanMessage(content="stock?")])
    assert first.tool_calls[0]["args"] == {"sku": "A1"}
    assert model.invoke("ok", stop=["\n"]).content == "done"
    assert [c.messages[-1].content for c in model.calls] == ["stock?", "ok"]
    assert model.calls[1].kwargs["stop"] == ["\n"]
    assert model.remaining == 0
    assert model.bound_tools == ["a tool"]


def test_exhausted_script_fails_loudly() -> None:
    model = ScriptedModel(responses=["one"])
    model.invoke("a")
    with pytest.raises(ScriptExhausted, match="only 1 scripted"):
        model.invoke("b")


def test_echo_mode() -> None:
    assert ScriptedModel(when_exhausted="echo").invoke("same").content == "same"


def test_exceptions_and_callables_in_the_script() -> None:
    model = ScriptedModel(
        responses=[BackendTimeout("slow"), lambda messages: f"{len(messages)} message(s)"]
    )
    with pytest.raises(BackendTimeout):
        model.invoke("x")
    assert model.invoke("y").content == "1 message(s)"


def test_streaming_yields_pieces_and_tool_calls() -> None:
    call = {"name": "t", "args": {"a": 1}, "id": "9"}
    model = ScriptedModel(responses=["a b c", AIMessage(content="", tool_calls=[call])])
    chunks = list(model.stream("go"))
    assert "".join(str(c.content) for c in chunks) == "a b c"
    assert len(chunks) >= 3
    merged = None
    for chunk in model.stream("go"):
        merged = chunk if merged is None else merged + chunk
    assert merged is not None and merged.tool_calls[0]["args"] == {"a": 1}


def test_with_structured_output() -> None:
    model = ScriptedModel(
        responses=[
            '{"value": 3}',
            AIMessage(content="", tool_calls=[{"name": "Answer", "args": {"value": 4}, "id": "1"}]),
        ]
    )
    structured = model.with_structured_output(Answer)
    assert structured.invoke("q") == Answer(value=3)
    assert structured.invoke("q") == Answer(value=4)


def test_network_guard_fails_a_unit_test_that_reaches_the_network() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(pytest.fail.Exception, match="unit test tried to connect"):
            sock.connect(("127.0.0.1", 8080))
    finally:
        sock.close()


def test_network_guard_covers_http_clients() -> None:
    import httpx

    with pytest.raises(pytest.fail.Exception, match=r"orchestrator\.testing"):
        httpx.get("http://127.0.0.1:8080/health", timeout=1)


@pytest.mark.slow
def test_the_same_script_drives_a_crewai_crew(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREWAI_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    from crewai import Agent, Crew, Task

    model = ScriptedModel(responses=["Thought: I know it.\nFinal Answer: Reorder 40 MUG-BLUE."])
    agent = Agent(
        role="Inventory analyst",
        goal="Recommend reorders",
        backstory="You analyse stock.",
        llm=model.as_crewai_llm(),
    )
    task = Task(description="What should we reorder?", expected_output="One sentence", agent=agent)
    result = Crew(agents=[agent], tasks=[task]).kickoff()
    assert result.raw == "Reorder 40 MUG-BLUE."
    assert "What should we reorder?" in str(model.calls[0].messages[-1].content)
