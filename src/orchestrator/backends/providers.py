"""The built-in OpenAI-compatible providers: llama.cpp, vLLM, Ollama, OpenAI, any base URL.

All five speak the OpenAI chat-completions API, so all map onto langchain-openai's
`ChatOpenAI` (for graphs) and CrewAI's native OpenAI `LLM` (for crews, no litellm), differing
only in their default base URL and whether a key is required. This module is imported lazily by
the registry on first use of one of these providers.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, NoReturn

import httpx
import openai
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from orchestrator.backends.exceptions import BackendRejected, how_to_start
from orchestrator.backends.registry import BackendConfig, Provider
from orchestrator.errors import BackendError, BackendTimeout, BackendUnavailable, ConfigError

__all__ = [
    "LLAMACPP",
    "OLLAMA",
    "OPENAI",
    "OPENAI_COMPATIBLE",
    "VLLM",
    "OpenAICompatibleChatModel",
    "translate_error",
]

LOCAL_API_KEY = "local"
"""llama.cpp, vLLM and Ollama accept any key unless started with one."""


def translate_error(
    exc: BaseException, *, base_url: str, model: str, timeout_s: float
) -> BackendError:
    """Map an openai/httpx exception to the `BackendError` tree, naming the URL and the fix."""
    if isinstance(exc, BackendError):
        return exc
    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
        return BackendTimeout(
            f"{model} at {base_url} did not answer within {timeout_s:g} s; raise "
            "ORCH_MODELS__TIMEOUT_S, lower max_tokens, or use a faster model"
        )
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        return BackendUnavailable(
            f"no model server answers at {base_url} (model {model}): "
            f"{type(exc).__name__}: {exc}; {how_to_start(base_url)}"
        )
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code in (502, 503, 504):
            return BackendUnavailable(
                f"the model server at {base_url} is not ready (HTTP {exc.status_code}); wait "
                f"for it to load the model, or {how_to_start(base_url)}"
            )
        return BackendRejected(base_url, exc.status_code, str(exc.message))
    return BackendError(f"{model} at {base_url} failed: {type(exc).__name__}: {exc}")


def _truncated(exc: openai.LengthFinishReasonError) -> ChatResult:
    """The reply cut off at max_tokens, as a message; validation decides whether it is usable.

    langchain-openai raises when a `response_format` reply hits the length limit; the text is
    still an answer (e.g. to repair), so it is returned with `finish_reason="length"`.
    """
    choice = exc.completion.choices[0] if exc.completion.choices else None
    content = (choice.message.content if choice else None) or ""
    message = AIMessage(content=content, response_metadata={"finish_reason": "length"})
    return ChatResult(generations=[ChatGeneration(message=message)])


class OpenAICompatibleChatModel(ChatOpenAI):
    """`ChatOpenAI` whose failures are `BackendError`s naming the URL and what to do.

    Retries are the openai client's own (`max_retries`); nothing here loops.
    """

    def _raise(self, exc: BaseException) -> NoReturn:
        timeout = self.request_timeout
        raise translate_error(
            exc,
            base_url=str(self.openai_api_base or "https://api.openai.com/v1"),
            model=self.model_name,
            timeout_s=float(timeout) if isinstance(timeout, int | float) else 0.0,
        ) from exc

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        try:
            return super()._generate(messages, stop, run_manager, **kwargs)
        except openai.LengthFinishReasonError as exc:
            return _truncated(exc)
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            self._raise(exc)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        try:
            return await super()._agenerate(messages, stop, run_manager, **kwargs)
        except openai.LengthFinishReasonError as exc:
            return _truncated(exc)
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            self._raise(exc)

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        try:
            yield from super()._stream(*args, **kwargs)
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            self._raise(exc)

    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        try:
            async for chunk in super()._astream(*args, **kwargs):
                yield chunk
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            self._raise(exc)


def _api_key(config: BackendConfig, *, required: bool, env: str | None) -> SecretStr:
    if config.api_key is not None:
        return config.api_key
    if env and os.environ.get(env):
        return SecretStr(os.environ[env])
    if required:
        raise ConfigError(
            f'{config.model_id} needs an API key: set ORCH_MODELS__API_KEYS=\'{{"{config.model_id.provider}": "..."}}\''
            + (f" or {env}" if env else "")
        )
    return SecretStr(LOCAL_API_KEY)


def _openai_factories(
    default_base_url: str | None, *, key_required: bool, key_env: str | None, needs_url: bool
) -> tuple[Callable[[BackendConfig], OpenAICompatibleChatModel], Callable[[BackendConfig], Any]]:
    def base_url(config: BackendConfig) -> str | None:
        url = config.base_url or default_base_url
        if url is None and needs_url:
            raise ConfigError(
                f"{config.model_id} needs a base URL: set ORCH_MODELS__BASE_URLS="
                f'\'{{"{config.model_id.provider}": "http://host:port/v1"}}\''
            )
        return url

    def chat_model(config: BackendConfig) -> OpenAICompatibleChatModel:
        return OpenAICompatibleChatModel(
            model=config.model_id.model,
            base_url=base_url(config),
            api_key=_api_key(config, required=key_required, env=key_env),
            timeout=config.timeout_s,
            max_retries=config.max_retries,
            temperature=config.temperature,
            max_completion_tokens=config.max_tokens,
            # llama.cpp and vLLM report usage in the last chunk when asked; OpenAI too.
            stream_usage=True,
        )

    def crewai_llm(config: BackendConfig) -> Any:
        os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("OTEL_SDK_DISABLED", "true")
        from crewai import LLM

        url = base_url(config)
        extra: dict[str, Any] = {"base_url": url} if url else {}
        # "openai/<model>" with a base_url takes CrewAI's native OpenAI client (no litellm).
        return LLM(
            model=f"openai/{config.model_id.model}",
            api_key=_api_key(config, required=key_required, env=key_env).get_secret_value(),
            timeout=config.timeout_s,
            max_retries=config.max_retries,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            **extra,
        )

    return chat_model, crewai_llm


def _provider(
    name: str,
    default_base_url: str | None,
    description: str,
    *,
    key_required: bool = False,
    key_env: str | None = None,
    needs_url: bool = False,
) -> Provider:
    chat, crew = _openai_factories(
        default_base_url, key_required=key_required, key_env=key_env, needs_url=needs_url
    )
    return Provider(name, chat, crew, default_base_url, description)


LLAMACPP = _provider(
    "llamacpp", "http://127.0.0.1:8080/v1", "llama.cpp's llama-server (OpenAI-compatible API)"
)
VLLM = _provider("vllm", "http://127.0.0.1:8000/v1", "a vLLM server (`vllm serve`)")
OLLAMA = _provider("ollama", "http://127.0.0.1:11434/v1", "Ollama's OpenAI-compatible API")
OPENAI = _provider(
    "openai",
    None,
    "OpenAI's API (key from ORCH_MODELS__API_KEYS or OPENAI_API_KEY)",
    key_required=True,
    key_env="OPENAI_API_KEY",
)
OPENAI_COMPATIBLE = _provider(
    "openai-compatible",
    None,
    "any OpenAI-compatible server: give its base URL (and key)",
    needs_url=True,
)
