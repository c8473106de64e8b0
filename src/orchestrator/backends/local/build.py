"""Build llama.cpp's own `llama-server` once per machine and keep it in the user cache.

There is no prebuilt `llama-server` in the package registries this project reaches, but the
`llama-cpp-python` sdist on PyPI carries llama.cpp's sources (`vendor/llama.cpp`, including
`tools/server`). `build_llama_server` downloads that sdist with pip, configures a static,
portable CPU build with CMake and compiles only the `llama-server` target, printing progress.
The result lives under `<cache>/llama-server/llama.cpp-<version>/llama-server`, so the slow
build (about 12 minutes on 2 cores) happens once; later calls return at once.

Users who already have a binary set `ORCH_LOCAL_MODEL__SERVER_BINARY`; users with a running
server point `ORCH_MODELS__BASE_URLS` at it and never need this module.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.errors import ConfigError, OrchestratorError

__all__ = [
    "LLAMA_CPP_PYTHON_VERSION",
    "LocalBuildError",
    "build_llama_server",
    "cached_server_binary",
    "find_server_binary",
]

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
"""The `llama-cpp-python` sdist whose vendored llama.cpp sources are built."""

CMAKE_FLAGS = (
    "-DBUILD_SHARED_LIBS=OFF",
    "-DGGML_NATIVE=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DCMAKE_BUILD_TYPE=Release",
)
"""A static, portable CPU build: the binary runs on any x86-64/arm64 machine of its kind."""

Progress = Callable[[str], None]


class LocalBuildError(OrchestratorError):
    """Fetching or compiling llama.cpp's server failed.

    Attributes:
        step: what was being done ("download", "configure", "build", ...).
        log: the last lines of the failing command's output.
    """

    def __init__(self, step: str, detail: str, log: str = "") -> None:
        self.step = step
        self.log = log
        tail = f"\n--- last output ---\n{log}" if log else ""
        super().__init__(
            f"building llama-server failed at {step}: {detail}. Install cmake and a C++ "
            "compiler, or set ORCH_LOCAL_MODEL__SERVER_BINARY to an existing llama-server, "
            f"or point ORCH_MODELS__BASE_URLS at a running server{tail}"
        )


def _print(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cached_server_binary(cache_dir: Path, version: str = LLAMA_CPP_PYTHON_VERSION) -> Path:
    """Where the built `llama-server` for `version` is (or will be) kept."""
    return Path(cache_dir) / "llama-server" / f"llama.cpp-{version}" / "llama-server"


def find_server_binary(
    cache_dir: Path, configured: Path | None = None, *, version: str = LLAMA_CPP_PYTHON_VERSION
) -> Path | None:
    """Return a usable `llama-server`: the configured one, the cached build, or one on PATH.

    Args:
        cache_dir: the user cache directory (`LocalModelSettings.cache_dir`).
        configured: `LocalModelSettings.server_binary`; when set it must exist.
        version: which cached build to look for.

    Raises:
        ConfigError: `configured` is set but is not an executable file.
    """
    if configured is not None:
        path = Path(configured).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ConfigError(
                f"ORCH_LOCAL_MODEL__SERVER_BINARY={str(configured)!r} is not an executable file; "
                "fix the path or unset it to use the cached build (`orchestrator local-model build`)"
            )
        return path
    cached = cached_server_binary(cache_dir, version)
    if cached.is_file() and os.access(cached, os.X_OK):
        return cached
    on_path = shutil.which("llama-server")
    return Path(on_path) if on_path else None


def _run(cmd: list[str], *, step: str, cwd: Path | None, progress: Progress) -> None:
    """Run `cmd`, forwarding CMake's `[ NN%]` lines to `progress`; raise with the log tail."""
    tail: list[str] = []
    last_pct = -1
    with subprocess.Popen(
        cmd,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            tail = [*tail[-39:], line]
            match = re.match(r"\[\s*(\d+)%\]", line)
            if match:
                pct = int(match.group(1))
                if pct != last_pct:
                    last_pct = pct
                    progress(f"  [{pct:3d}%] {line[match.end() :].strip()[:90]}")
        code = proc.wait()
    if code != 0:
        raise LocalBuildError(
            step, f"`{' '.join(cmd[:4])} ...` exited with {code}", "\n".join(tail)
        )


def _download_sdist(version: str, dest: Path, progress: Progress) -> Path:
    existing = sorted(dest.glob(f"llama_cpp_python-{version}.tar.gz"))
    if existing:
        return existing[0]
    progress(f"downloading the llama-cpp-python {version} sdist (llama.cpp's sources) with pip")
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-binary",
        ":all:",
        "--no-deps",
        "--disable-pip-version-check",
        "--quiet",
        "-d",
        str(dest),
        f"llama-cpp-python=={version}",
    ]
    _run(cmd, step="download", cwd=None, progress=progress)
    found = sorted(dest.glob(f"llama_cpp_python-{version}.tar.gz"))
    if not found:
        raise LocalBuildError(
            "download", f"pip saved no llama_cpp_python-{version}.tar.gz in {dest}"
        )
    return found[0]


def _extract_llama_cpp(sdist: Path, dest: Path) -> Path:
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if "/vendor/llama.cpp/" in m.name]
        archive.extractall(dest, members=members, filter="data")
    roots = list(dest.glob("*/vendor/llama.cpp"))
    if not roots or not (roots[0] / "CMakeLists.txt").is_file():
        raise LocalBuildError("extract", f"{sdist.name} carries no vendor/llama.cpp/CMakeLists.txt")
    return roots[0]


def build_llama_server(
    cache_dir: Path,
    *,
    version: str = LLAMA_CPP_PYTHON_VERSION,
    jobs: int | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Build `llama-server` into the cache, or return the cached binary at once.

    Args:
        cache_dir: the user cache directory (`LocalModelSettings.cache_dir`).
        version: the `llama-cpp-python` sdist version whose llama.cpp is built.
        jobs: parallel compile jobs; default: every core.
        force: rebuild even when a cached binary exists.
        progress: receives one line per step and per percent of the build; default: stderr.

    Returns:
        The path of the built, executable `llama-server`.

    Raises:
        LocalBuildError: pip, cmake or the compiler failed; the message carries the log tail.

    Example:
        >>> from orchestrator.backends.local import build_llama_server
        >>> binary = build_llama_server(Path.home() / ".cache/commerce-orchestrator")  # doctest: +SKIP
    """
    report = progress or _print
    target = cached_server_binary(cache_dir, version)
    if target.is_file() and not force:
        return target
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            raise LocalBuildError("prerequisites", f"`{tool}` is not on PATH")
    started = time.monotonic()
    downloads = Path(cache_dir) / "downloads"
    sdist = _download_sdist(version, downloads, report)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llama-build-", dir=target.parent) as tmp:
        work = Path(tmp)
        report(f"extracting llama.cpp from {sdist.name}")
        source = _extract_llama_cpp(sdist, work)
        build_dir = work / "build"
        report("configuring (cmake " + " ".join(CMAKE_FLAGS) + ")")
        _run(
            ["cmake", "-S", str(source), "-B", str(build_dir), *CMAKE_FLAGS],
            step="configure",
            cwd=work,
            progress=lambda _line: None,
        )
        n = jobs or os.cpu_count() or 2
        report(f"compiling llama-server with {n} job(s); this takes about 12 minutes on 2 cores")
        _run(
            ["cmake", "--build", str(build_dir), "--target", "llama-server", "-j", str(n)],
            step="build",
            cwd=work,
            progress=report,
        )
        built = build_dir / "bin" / "llama-server"
        if not built.is_file():
            raise LocalBuildError("build", f"the build finished but produced no {built}")
        staged = target.with_suffix(".tmp")
        shutil.copy2(built, staged)
        staged.chmod(0o755)
        os.replace(staged, target)
    report(f"built {target} in {time.monotonic() - started:.0f} s")
    return target
