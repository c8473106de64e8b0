"""Run llama.cpp's `llama-server` with a GGUF model, wait until it is healthy, stop it cleanly.

```python
from orchestrator import load_settings
from orchestrator.backends.local import LocalModelServer

with LocalModelServer.from_settings(load_settings().local_model, port=8091) as server:
    print(server.base_url)            # http://127.0.0.1:8091/v1
```

A second `start()` against a port where a healthy server already answers reuses it (and
`stop()` then leaves it alone). A server started in the foreground runs in its own process group
and gets SIGTERM if the Python process dies (Linux), so no orphan is left behind; a detached one
(`orchestrator local-model start`) writes a pid file that `local-model stop` uses.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import httpx

from orchestrator.backends.exceptions import LocalServerError
from orchestrator.backends.local.build import find_server_binary
from orchestrator.backends.local.model import resolve_model_path
from orchestrator.settings import LocalModelSettings, Settings

__all__ = [
    "LocalModelServer",
    "ServerStatus",
    "ensure_local_server",
    "read_status",
    "stop_detached",
]


def _run_dir(cache_dir: Path) -> Path:
    path = Path(cache_dir) / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def pid_file(cache_dir: Path, port: int) -> Path:
    """The pid file of a detached server on `port`."""
    return _run_dir(cache_dir) / f"llama-server-{port}.json"


def _set_pdeathsig() -> None:  # pragma: no cover - runs in the child
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        with contextlib.suppress(OSError):
            return stat.read_text().split(") ", 1)[1][:1] != "Z"
    return True


def _is_llama_server(pid: int) -> bool:
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return _alive(pid)
    with contextlib.suppress(OSError):
        return b"llama-server" in cmdline.read_bytes()
    return False


def _terminate_group(pid: int, timeout_s: float) -> None:
    for sig, wait in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not _alive(pid):
                return
            time.sleep(0.05)


def _tail(path: Path | None, lines: int = 30) -> str:
    if path is None or not path.exists():
        return ""
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def health(url: str, timeout_s: float = 2.0) -> bool:
    """True when the llama.cpp server at `url` (its root, no `/v1`) reports it is ready."""
    try:
        return httpx.get(f"{url}/health", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


class LocalModelServer:
    """A `llama-server` process serving one GGUF model on an OpenAI-compatible API.

    Args:
        binary: the `llama-server` executable.
        model_path: the GGUF file.
        host, port: where it listens.
        ctx_size: total context (`-c`), shared by the slots.
        parallel: parallel slots (`-np`).
        threads: CPU threads (`-t`); default: llama.cpp's choice.
        jinja: use the model's chat template with tool-call support (`--jinja`).
        alias: the model name it announces (`--alias`).
        extra_args: more llama-server flags.
        startup_timeout_s: how long `start()` waits for `/health`.
        log_path: where its output goes (default: the cache's run directory).
        cache_dir: the cache (for the log and the pid file).
    """

    def __init__(
        self,
        *,
        binary: Path,
        model_path: Path,
        host: str = "127.0.0.1",
        port: int = 8080,
        ctx_size: int = 8192,
        parallel: int = 2,
        threads: int | None = None,
        jinja: bool = True,
        alias: str = "smollm2",
        extra_args: Sequence[str] = (),
        startup_timeout_s: float = 120.0,
        log_path: Path | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.binary = Path(binary)
        self.model_path = Path(model_path)
        self.host = host
        self.port = port
        self.ctx_size = ctx_size
        self.parallel = parallel
        self.threads = threads
        self.jinja = jinja
        self.alias = alias
        self.extra_args = tuple(extra_args)
        self.startup_timeout_s = startup_timeout_s
        self.cache_dir = Path(cache_dir) if cache_dir else LocalModelSettings().cache_dir
        self.log_path = log_path or _run_dir(self.cache_dir) / f"llama-server-{port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.reused = False

    @classmethod
    def from_settings(cls, settings: LocalModelSettings, **overrides: Any) -> LocalModelServer:
        """Build from `Settings.local_model`; `overrides` win (e.g. `port=8091`).

        Raises:
            LocalServerError: no `llama-server` binary or no model file is available; the
                message says which command makes one.
            ConfigError: a configured binary or model path does not exist.
        """
        binary = overrides.pop("binary", None) or find_server_binary(
            settings.cache_dir, settings.server_binary
        )
        if binary is None:
            raise LocalServerError(
                "no llama-server binary: run `orchestrator local-model build` (about 12 minutes, "
                "once per machine), set ORCH_LOCAL_MODEL__SERVER_BINARY, or point "
                "ORCH_MODELS__BASE_URLS at a running server"
            )
        model = overrides.pop("model_path", None) or resolve_model_path(
            settings.cache_dir, settings.model_path
        )
        if model is None:
            raise LocalServerError(
                "no GGUF model: run `orchestrator local-model fetch-model` (SmolLM2, 98 MB) or "
                "set ORCH_LOCAL_MODEL__MODEL_PATH"
            )
        options: dict[str, Any] = {
            "host": settings.host,
            "port": settings.port,
            "ctx_size": settings.ctx_size,
            "parallel": settings.parallel,
            "threads": settings.threads,
            "jinja": settings.jinja,
            "alias": settings.model_alias,
            "startup_timeout_s": settings.startup_timeout_s,
            "cache_dir": settings.cache_dir,
        }
        options.update(overrides)
        return cls(binary=binary, model_path=model, **options)

    @property
    def url(self) -> str:
        """The server's root URL (health, slots), e.g. `http://127.0.0.1:8080`."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL, e.g. `http://127.0.0.1:8080/v1`."""
        return f"{self.url}/v1"

    @property
    def pid(self) -> int | None:
        """The process id of the server this object started, if any."""
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        """The `llama-server` command line."""
        cmd = [
            str(self.binary),
            "-m", str(self.model_path),
            "--host", self.host,
            "--port", str(self.port),
            "-c", str(self.ctx_size),
            "-np", str(self.parallel),
            "--alias", self.alias,
        ]  # fmt: skip
        if self.jinja:
            cmd.append("--jinja")
        if self.threads:
            cmd += ["-t", str(self.threads)]
        return [*cmd, *self.extra_args]

    def is_healthy(self, timeout_s: float = 2.0) -> bool:
        """True when a server on this host and port reports ready."""
        return health(self.url, timeout_s)

    def start(self, *, detach: bool = False) -> Self:
        """Start the server and wait for `/health`, or reuse a healthy one on the same port.

        Args:
            detach: keep it running after this Python process exits (writes a pid file);
                used by `orchestrator local-model start`.

        Raises:
            LocalServerError: it exited during start-up or did not become healthy within
                `startup_timeout_s`; the message carries its last output lines.
        """
        if self.process is not None and self.process.poll() is None:
            return self
        if self.is_healthy():
            self.reused = True
            return self
        self.reused = False
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log: IO[bytes] = self.log_path.open("wb")
        try:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=None if detach else _set_pdeathsig,
            )
        except OSError as exc:
            raise LocalServerError(f"cannot run {self.binary}: {exc}") from exc
        finally:
            log.close()
        if not detach:
            atexit.register(self.stop)
        self._wait_healthy()
        if detach:
            pid_file(self.cache_dir, self.port).write_text(
                json.dumps(
                    {
                        "pid": self.process.pid,
                        "url": self.base_url,
                        "model": str(self.model_path),
                        "alias": self.alias,
                        "binary": str(self.binary),
                        "log": str(self.log_path),
                    }
                )
            )
        return self

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                self.process = None
                raise LocalServerError(
                    f"llama-server exited with code {code} while starting on port {self.port} "
                    f"(is the port taken, or the model file broken?); log: {self.log_path}",
                    _tail(self.log_path),
                )
            if self.is_healthy(timeout_s=1.0):
                return
            time.sleep(0.2)
        self.stop()
        raise LocalServerError(
            f"llama-server did not become healthy at {self.url} within "
            f"{self.startup_timeout_s:g} s; raise ORCH_LOCAL_MODEL__STARTUP_TIMEOUT_S or use a "
            f"smaller model; log: {self.log_path}",
            _tail(self.log_path),
        )

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server this object started (SIGTERM, then SIGKILL); a reused one is left."""
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        if process.poll() is None:
            _terminate_group(process.pid, timeout_s)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """What `orchestrator local-model status` reports.

    Attributes:
        url: the OpenAI base URL checked.
        healthy: `/health` answered 200.
        pid: the detached server's pid from its pid file, if there is one and it runs.
        model: the model the pid file names, or what `/v1/models` reports.
        log: the server's log file, if known.
    """

    url: str
    healthy: bool
    pid: int | None
    model: str | None
    log: str | None


def read_status(cache_dir: Path, host: str, port: int) -> ServerStatus:
    """The state of the local server on `host:port` (pid file plus a health check)."""
    root = f"http://{host}:{port}"
    info: dict[str, Any] = {}
    path = pid_file(cache_dir, port)
    if path.exists():
        with contextlib.suppress(ValueError, OSError):
            info = json.loads(path.read_text())
    pid = info.get("pid")
    if isinstance(pid, int) and not _alive(pid):
        pid = None
    healthy = health(root)
    model = info.get("model")
    if healthy and model is None:
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, IndexError):
            model = httpx.get(f"{root}/v1/models", timeout=2).json()["data"][0]["id"]
    return ServerStatus(f"{root}/v1", healthy, pid, model, info.get("log"))


def stop_detached(cache_dir: Path, port: int, timeout_s: float = 10.0) -> int | None:
    """Stop the detached server whose pid file is for `port`; return its pid, or None if none ran."""
    path = pid_file(cache_dir, port)
    if not path.exists():
        return None
    try:
        pid = int(json.loads(path.read_text())["pid"])
    except (ValueError, KeyError, OSError):
        path.unlink(missing_ok=True)
        return None
    stopped = None
    if _alive(pid) and _is_llama_server(pid):
        _terminate_group(pid, timeout_s)
        stopped = pid
    path.unlink(missing_ok=True)
    return stopped


@contextlib.contextmanager
def ensure_local_server(settings: Settings) -> Iterator[LocalModelServer | None]:
    """Run the local model for the duration of a `with` block if the settings route to it.

    When any routed model (default, graph or node override, fallback) is a `llamacpp:` id whose
    base URL is this machine's `ORCH_LOCAL_MODEL__PORT` and nothing answers there, start
    `llama-server` (from the cache) and stop it afterwards. Otherwise do nothing: an existing
    server, vLLM, Ollama or a cloud key are used as configured. Used by `make demo`.

    Yields:
        The server started, or None when none was needed.

    Raises:
        LocalServerError: a server was needed but could not be started (the message says
            whether to run `orchestrator local-model build` or `fetch-model`).
    """
    from urllib.parse import urlsplit

    from orchestrator.backends.ids import parse_model_id

    models, local = settings.models, settings.local_model
    ids = [models.default, *models.graphs.values(), *models.nodes.values(), *models.fallbacks]
    url = models.base_urls.get("llamacpp", "http://127.0.0.1:8080/v1")
    parts = urlsplit(url)
    is_local = parts.hostname in ("127.0.0.1", "localhost", local.host) and (
        parts.port == local.port
    )
    wanted = any(parse_model_id(i).provider == "llamacpp" for i in ids) and is_local
    if not wanted or health(f"{parts.scheme}://{parts.netloc}"):
        yield None
        return
    server = LocalModelServer.from_settings(local)
    with server:
        yield server
