"""Structured output and tool choice that small models cannot break.

`structured_output(model, messages, Schema)` returns a validated `Schema` instance or raises
`StructuredOutputError`; it never returns unchecked text. The ladder, chosen by the backend's
probed capabilities:

1. JSON-schema constrained decoding (`response_format={"type": "json_schema", ...}`): the
   server's grammar makes the reply match the schema; it is still validated.
2. JSON mode (`{"type": "json_object"}`), or the bare prompt when even that is missing, with
   the schema in the system message; the reply is validated and, if it fails, the model gets
   one repair turn quoting the validation errors.
3. Otherwise `StructuredOutputError`, which graphs catch to take their deterministic path.

`choose_tool(model, messages, tools)` likewise: a native tool call where the backend makes
them, else the text protocol (the model answers `{"tool": <name>, "args": {...}}`, decoded
under a JSON-schema `anyOf` with one branch per tool, so the reply is always a well-formed call),
validated against the tool's argument schema, else `ToolCallError`. A small model can choose the
wrong tool: the caller's code must check that the choice makes sense before acting on it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, convert_to_messages
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ValidationError

from orchestrator._personal import mask
from orchestrator.backends.exceptions import BackendRejected
from orchestrator.backends.probe import Capabilities, capabilities_of
from orchestrator.errors import BackendUnavailable, StructuredOutputError, ToolCallError

__all__ = ["ToolChoice", "achoose_tool", "astructured_output", "choose_tool", "structured_output"]

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")
MessagesInput = str | Sequence[BaseMessage | tuple[str, str] | dict[str, Any] | str]
Mode = Literal["json_schema", "json_object", "prompt"]


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """A validated tool call chosen by the model.

    Attributes:
        name: the tool's name; one of the tools offered.
        args: the arguments, validated against the tool's schema.
        via: `native` (the server's tool calling) or `protocol` (the JSON text protocol).
        call_id: the native call id, when there is one.
    """

    name: str
    args: dict[str, Any]
    via: Literal["native", "protocol"]
    call_id: str | None = None

    def as_message(self, content: str = "") -> AIMessage:
        """The choice as an `AIMessage` with one tool call, for a `ToolNode` to run.

        The tool-call id is the model's own, or a fresh one for a protocol choice: once the
        message is checkpointed, a re-run of the tool node sees the same id, so the write
        key is stable.
        """
        import uuid

        call_id = self.call_id or f"call_{uuid.uuid4().hex[:24]}"
        return AIMessage(
            content=content,
            tool_calls=[{"name": self.name, "args": dict(self.args), "id": call_id}],
        )


def _messages(messages: MessagesInput) -> list[BaseMessage]:
    if isinstance(messages, str):
        return convert_to_messages([("human", messages)])
    return convert_to_messages(list(messages))


def _extract_json(text: str) -> Any:
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    start, end = text.find("{"), text.rfind("}")
    if start == -1 or end <= start:
        raise ValueError("the reply contains no JSON object")
    return json.loads(text[start : end + 1])


def _reply_payload(message: BaseMessage) -> Any:
    if isinstance(message, AIMessage) and message.tool_calls and not message.content:
        return message.tool_calls[0]["args"]
    content = message.content
    text = (
        content
        if isinstance(content, str)
        else "".join(
            part if isinstance(part, str) else str(part.get("text", "")) for part in content
        )
    )
    return _extract_json(text)


def _response_format(mode: Mode, name: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": True},
        }
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def _ladder(caps: Capabilities) -> list[Mode]:
    if caps.json_schema:
        return ["json_schema", "json_object"] if caps.json_mode else ["json_schema"]
    return ["json_object"] if caps.json_mode else ["prompt"]


Request = tuple[list[BaseMessage], dict[str, Any]]
"""One model call the ladder wants made: (conversation, invoke options)."""


def _ladder_steps(
    messages: list[BaseMessage],
    *,
    name: str,
    schema: dict[str, Any],
    validate: Callable[[Any], T],
    instruction: str,
    caps: Capabilities,
) -> Generator[Request, BaseMessage, T]:
    """The structured-output ladder without I/O: yields model calls, receives replies.

    A sync or an async driver makes each yielded call and sends the reply back (or throws the
    `BackendRejected` the call raised). Returns the validated value; raises
    `StructuredOutputError` when every rung failed.
    """
    if not caps.reachable:
        raise BackendUnavailable(caps.detail or "the model backend is not reachable")
    system = SystemMessage(content=instruction)
    base = [system, *messages]
    failures: list[str] = []
    for mode in _ladder(caps):
        fmt = _response_format(mode, name, schema)
        kwargs = {"response_format": fmt} if fmt else {}
        conversation = list(base)
        refused = False
        for attempt in range(2):
            try:
                reply = yield conversation, kwargs
            except BackendRejected as exc:
                if mode != "json_schema" or exc.status_code not in (400, 422, 500):
                    raise
                failures.append(f"{mode}: refused ({exc.status_code})")
                refused = True
                break
            raw = reply.content if isinstance(reply.content, str) else str(reply.content)
            try:
                return validate(_reply_payload(reply))
            except (ValueError, ValidationError) as exc:
                problem = mask(str(exc)[:600])
                if reply.response_metadata.get("finish_reason") == "length":
                    problem = "the reply was cut off at the token limit; give a shorter answer"
                # The reply may echo a customer's message: no email or phone in the error.
                failures.append(
                    f"{mode} attempt {attempt + 1}: {problem} (reply: {mask(raw[:200])!r})"
                )
                conversation = [
                    *base,
                    AIMessage(content=raw),
                    SystemMessage(
                        content=(
                            "Your reply was not valid: "
                            f"{problem}\nReply again with only the corrected JSON object."
                        )
                    ),
                ]
        if not refused:
            break
    raise StructuredOutputError(
        f"no reply validating against {name} after {len(failures)} attempt(s): "
        + " | ".join(failures)
        + "; use a model with JSON-schema output (e.g. llama.cpp's server) or take the "
        "deterministic path"
    )


def _target(model: Any, kwargs: dict[str, Any]) -> Any:
    tools = kwargs.get(_NATIVE)
    return model.bind_tools(tools, tool_choice="required") if tools else model


def _options(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k != _NATIVE}


def _drive(model: Any, steps: Generator[Request, BaseMessage, R]) -> R:
    """Run the ladder with blocking calls."""
    try:
        conversation, kwargs = next(steps)
        while True:
            try:
                reply = _target(model, kwargs).invoke(conversation, **_options(kwargs))
            except BackendRejected as exc:
                conversation, kwargs = steps.throw(exc)
                continue
            conversation, kwargs = steps.send(reply)
    except StopIteration as done:
        return cast(R, done.value)


async def _adrive(model: Any, steps: Generator[Request, BaseMessage, R]) -> R:
    """Run the ladder with awaited calls."""
    try:
        conversation, kwargs = next(steps)
        while True:
            try:
                reply = await _target(model, kwargs).ainvoke(conversation, **_options(kwargs))
            except BackendRejected as exc:
                conversation, kwargs = steps.throw(exc)
                continue
            conversation, kwargs = steps.send(reply)
    except StopIteration as done:
        return cast(R, done.value)


def _structured_steps(
    model: Any, messages: MessagesInput, schema: type[T], capabilities: Capabilities | None
) -> Generator[Request, BaseMessage, T]:
    caps = capabilities or capabilities_of(model)
    json_schema = schema.model_json_schema()
    instruction = (
        "Answer with one JSON object and nothing else. It must match this JSON schema:\n"
        + json.dumps(json_schema, separators=(",", ":"))
    )
    return _ladder_steps(
        _messages(messages),
        name=schema.__name__,
        schema=json_schema,
        validate=schema.model_validate,
        instruction=instruction,
        caps=caps,
    )


def structured_output(
    model: Any,
    messages: MessagesInput,
    schema: type[T],
    *,
    capabilities: Capabilities | None = None,
) -> T:
    """Ask `model` for an instance of `schema`: constrained if possible, validated always.

    Args:
        model: a chat model from `ModelRouter.chat_model` (any LangChain chat model works).
        messages: the conversation: a string, or messages / `(role, text)` pairs.
        schema: the pydantic model the reply must validate against.
        capabilities: skip the probe and use these (tests, known backends).

    Returns:
        A validated `schema` instance.

    Raises:
        StructuredOutputError: no reply validated, even after one repair turn.
        BackendUnavailable: the server is not reachable (names the URL and how to start one).
        BackendTimeout: the server did not answer within the timeout.

    Example:
        >>> class Intent(BaseModel):
        ...     intent: Literal["order_status", "refund", "other"]
        >>> structured_output(model, "Where is my parcel?", Intent)  # doctest: +SKIP
        Intent(intent='order_status')
    """
    return _drive(model, _structured_steps(model, messages, schema, capabilities))


async def astructured_output(
    model: Any,
    messages: MessagesInput,
    schema: type[T],
    *,
    capabilities: Capabilities | None = None,
) -> T:
    """`structured_output` with awaited model calls (for async nodes); same ladder, same errors."""
    return await _adrive(model, _structured_steps(model, messages, schema, capabilities))


@dataclass(frozen=True, slots=True)
class _ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]
    args_model: type[BaseModel] | None

    def validate(self, args: Any) -> dict[str, Any]:
        if not isinstance(args, dict):
            raise ValueError(f"arguments of {self.name} must be an object, got {args!r}")
        if self.args_model is None:
            missing = [k for k in self.parameters.get("required", []) if k not in args]
            if missing:
                raise ValueError(f"{self.name} misses required argument(s) {missing}")
            return dict(args)
        return self.args_model.model_validate(args).model_dump(mode="json")


def _spec(tool: BaseTool | type[BaseModel]) -> _ToolSpec:
    if isinstance(tool, BaseTool):
        schema = tool.tool_call_schema
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            return _ToolSpec(tool.name, tool.description, schema.model_json_schema(), schema)
        parameters = convert_to_openai_tool(tool)["function"].get("parameters", {})
        return _ToolSpec(tool.name, tool.description, dict(parameters), None)
    if isinstance(tool, type) and issubclass(tool, BaseModel):
        return _ToolSpec(
            tool.__name__, (tool.__doc__ or "").strip(), tool.model_json_schema(), tool
        )
    raise TypeError(f"a tool must be a LangChain BaseTool or a pydantic model class, not {tool!r}")


PROTOCOL_MAX_STRING = 80
"""Longest string argument the text protocol's grammar allows where the tool sets no maxLength."""


def _bounded(prop: Any) -> Any:
    if isinstance(prop, dict) and prop.get("type") == "string" and "maxLength" not in prop:
        return {**prop, "maxLength": PROTOCOL_MAX_STRING}
    return prop


def _protocol_schema(specs: Sequence[_ToolSpec]) -> dict[str, Any]:
    branches = []
    for spec in specs:
        params = {k: v for k, v in spec.parameters.items() if k not in ("title", "description")}
        # Without these a grammar lets a small model add keys, or extend a string, until
        # max_tokens cuts the reply off.
        params.setdefault("additionalProperties", False)
        params["properties"] = {
            name: _bounded(prop) for name, prop in params.get("properties", {}).items()
        }
        branches.append(
            {
                "type": "object",
                "properties": {"tool": {"const": spec.name}, "args": params},
                "required": ["tool", "args"],
                "additionalProperties": False,
            }
        )
    return branches[0] if len(branches) == 1 else {"anyOf": branches}


_NATIVE = "__native_tools__"
"""Marks a request the driver must send through `bind_tools(tools, tool_choice="required")`."""


def _choose_steps(
    model: Any,
    messages: MessagesInput,
    tools: Sequence[BaseTool | type[BaseModel]],
    capabilities: Capabilities | None,
) -> Generator[Request, BaseMessage, ToolChoice]:
    if not tools:
        raise ToolCallError("choose_tool() needs at least one tool")
    specs = {spec.name: spec for spec in map(_spec, tools)}
    caps = capabilities or capabilities_of(model)
    msgs = _messages(messages)
    problems: list[str] = []
    if caps.native_tools:
        reply = yield msgs, {_NATIVE: list(tools)}
        calls = getattr(reply, "tool_calls", None) or []
        if not calls:
            problems.append("native: the model made no tool call")
        else:
            call = calls[0]
            spec = specs.get(call["name"])
            if spec is None:
                problems.append(f"native: unknown tool {call['name']!r}")
            else:
                try:
                    return ToolChoice(
                        spec.name, spec.validate(call["args"]), "native", call.get("id")
                    )
                except (ValueError, ValidationError) as exc:
                    problems.append(f"native: bad arguments for {spec.name}: {str(exc)[:300]}")
    if not (caps.json_schema or caps.json_mode) and caps.native_tools:
        raise ToolCallError(
            "no valid tool call: " + "; ".join(problems) + "; take the deterministic path"
        )
    listing = "\n".join(
        f"- {s.name}: {s.description} Arguments (JSON schema): "
        + json.dumps(s.parameters, separators=(",", ":"))
        for s in specs.values()
    )
    instruction = (
        "Choose exactly one tool. Reply with only a JSON object "
        '{"tool": <tool name>, "args": {<arguments>}}. Tools:\n' + listing
    )

    def validate(payload: Any) -> _Protocol:
        if not isinstance(payload, dict):
            raise ValueError(f"expected an object, got {payload!r}")
        spec = specs.get(str(payload.get("tool")))
        if spec is None:
            raise ValueError(f"unknown tool {payload.get('tool')!r}; choose one of {sorted(specs)}")
        return _Protocol(tool=spec.name, args=spec.validate(payload.get("args")))

    try:
        chosen = yield from _ladder_steps(
            msgs,
            name="tool_call",
            schema=_protocol_schema(list(specs.values())),
            validate=validate,
            instruction=instruction,
            caps=caps,
        )
    except StructuredOutputError as exc:
        raise ToolCallError(
            "no valid tool call: "
            + "; ".join([*problems, str(exc)])
            + "; take the deterministic path"
        ) from exc
    return ToolChoice(chosen.tool, chosen.args, "protocol")


def choose_tool(
    model: Any,
    messages: MessagesInput,
    tools: Sequence[BaseTool | type[BaseModel]],
    *,
    capabilities: Capabilities | None = None,
) -> ToolChoice:
    """Have the model pick one of `tools` and its arguments; the result is validated.

    Native tool calling is used where the backend supports it; otherwise the text protocol
    `{"tool": <name>, "args": {...}}` under JSON-schema constrained decoding (or JSON mode plus
    one repair). The caller must still check that the choice is sensible: a small model can
    choose a valid but wrong tool. `ToolChoice.as_message()` turns the choice into an
    `AIMessage` tool call that a `ToolNode` runs.

    Args:
        model: a chat model from `ModelRouter.chat_model`.
        messages: the conversation.
        tools: LangChain tools or pydantic models (the class name is the tool name).
        capabilities: skip the probe and use these.

    Returns:
        The `ToolChoice`, with arguments validated against the chosen tool's schema.

    Raises:
        ToolCallError: no valid call could be had (none, an unknown tool, bad arguments).
        BackendUnavailable, BackendTimeout: the server failed.
    """
    return _drive(model, _choose_steps(model, messages, tools, capabilities))


async def achoose_tool(
    model: Any,
    messages: MessagesInput,
    tools: Sequence[BaseTool | type[BaseModel]],
    *,
    capabilities: Capabilities | None = None,
) -> ToolChoice:
    """`choose_tool` with awaited model calls (for async nodes); same rules, same errors."""
    return await _adrive(model, _choose_steps(model, messages, tools, capabilities))


class _Protocol(BaseModel):
    tool: str
    args: dict[str, Any]
