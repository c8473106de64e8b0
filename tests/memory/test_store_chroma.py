"""ChromaStore beyond the shared suite: persistence across processes, TTL, a Chroma server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.store.base import GetOp, InvalidNamespaceError

from orchestrator import ConfigError, load_settings
from orchestrator.memory import ChromaStore, FunctionEmbeddings, HashEmbeddings

INDEX = {"embed": HashEmbeddings(), "fields": ["text"]}


def _run(code: str, env: dict[str, str] | None = None) -> str:
    src = str(Path(__file__).parents[2] / "src")
    environ = {**os.environ, "PYTHONPATH": src, "ANONYMIZED_TELEMETRY": "False", **(env or {})}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_items_persist_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "chroma"
    _run(
        f"""
        from orchestrator.memory import ChromaStore, HashEmbeddings
        store = ChromaStore(path={str(path)!r}, index={{"embed": HashEmbeddings(), "fields": ["text"]}})
        store.put(("customers", "5", "preferences"), "channel", {{"text": "prefers text messages"}})
        store.put(("customers", "5", "issues"), "t-1", {{"text": "parcel lost, reshipped"}})
        """
    )
    out = _run(
        f"""
        from orchestrator.memory import ChromaStore, HashEmbeddings
        store = ChromaStore(path={str(path)!r}, index={{"embed": HashEmbeddings(), "fields": ["text"]}})
        print(store.get(("customers", "5", "preferences"), "channel").value["text"])
        print(store.search(("customers", "5"), query="lost parcel")[0].key)
        print(store.list_namespaces(prefix=("customers",)))
        """
    )
    assert out.splitlines() == [
        "prefers text messages",
        "t-1",
        "[('customers', '5', 'issues'), ('customers', '5', 'preferences')]",
    ]


def test_created_at_survives_an_update(tmp_path: Path) -> None:
    store = ChromaStore(path=tmp_path, index=INDEX)  # type: ignore[arg-type]
    store.put(("a",), "k", {"text": "one"})
    first = store.get(("a",), "k")
    time.sleep(0.01)
    store.put(("a",), "k", {"text": "two"})
    second = store.get(("a",), "k")
    assert first is not None and second is not None
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at


def test_an_emptied_namespace_is_no_longer_listed(tmp_path: Path) -> None:
    # InMemoryStore keeps listing a namespace whose items were all deleted; Chroma does not.
    store = ChromaStore(path=tmp_path, index=INDEX)  # type: ignore[arg-type]
    store.put(("insights", "pricing"), "k", {"text": "x"})
    store.delete(("insights", "pricing"), "k")
    assert store.list_namespaces() == []


def test_batch_validates_namespaces(tmp_path: Path) -> None:
    store = ChromaStore(path=tmp_path, index=INDEX)  # type: ignore[arg-type]
    store.put(("foo", "bar"), "k", {"text": "x"})
    with pytest.raises(InvalidNamespaceError):
        store.batch([GetOp(("foo.bar",), "k")])


def test_ttl_expires_refreshes_and_sweeps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr("orchestrator.memory.store.time.time", lambda: clock[0])
    store = ChromaStore(
        path=tmp_path,
        index=INDEX,
        ttl={"default_ttl": 10, "refresh_on_read": True},  # type: ignore[arg-type]
    )
    assert store.supports_ttl
    ns = ("customers", "1", "issues")
    store.put(ns, "short", {"text": "expires"}, ttl=1)
    store.put(ns, "default", {"text": "ten minutes"})
    store.put(ns, "forever", {"text": "stays"}, ttl=None)
    clock[0] += 50  # 50 s: nothing expired; reading refreshes "short" to 1 minute from now
    assert store.get(ns, "short") is not None
    clock[0] += 50  # 100 s after put, 50 s after the refresh
    assert store.get(ns, "short", refresh_ttl=False) is not None
    clock[0] += 20  # 70 s after the refresh: gone
    assert store.get(ns, "short") is None
    assert {i.key for i in store.search(ns)} == {"default", "forever"}
    clock[0] += 601  # past the default 10 minutes (refreshed by the search above)
    assert {i.key for i in store.search(ns)} == {"forever"}
    assert store.list_namespaces() == [ns]
    assert store.sweep_ttl() == 2
    assert store.count() == 1


def test_sweep_runs_by_itself_at_the_configured_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [2_000_000.0]
    monkeypatch.setattr("orchestrator.memory.store.time.time", lambda: clock[0])
    store = ChromaStore(path=tmp_path, index=INDEX, ttl={"sweep_interval_minutes": 5})  # type: ignore[arg-type]
    store.put(("a",), "k", {"text": "x"}, ttl=1)
    clock[0] += 120
    assert store.count() == 1
    clock[0] += 300
    store.get(("a",), "other")  # any batch after the interval sweeps
    assert store.count() == 0


def test_vectors_of_another_embedder_are_refused(tmp_path: Path) -> None:
    ChromaStore(path=tmp_path, index=INDEX)  # type: ignore[arg-type]
    other = FunctionEmbeddings(lambda texts: [[1.0, 0.0] for _ in texts], dims=2)
    with pytest.raises(ConfigError, match="holds vectors of 'HashEmbeddings'"):
        ChromaStore(path=tmp_path, index={"embed": other})
    ChromaStore(path=tmp_path, index={"embed": other}, collection_prefix="other")


def test_store_without_index_returns_unranked_items(tmp_path: Path) -> None:
    store = ChromaStore(path=tmp_path)
    store.put(("a",), "k", {"text": "banana"})
    hits = store.search(("a",), query="banana")
    assert [(h.key, h.score) for h in hits] == [("k", None)]


def test_from_settings_uses_the_memory_section(tmp_path: Path) -> None:
    settings = load_settings(
        memory={"path": tmp_path / "mem", "embedding": "hash", "collection_prefix": "t1"}
    )
    store = ChromaStore.from_settings(settings)
    store.put(("sales", "WH-MAIN"), "note", {"text": "ice cream sells in July"})
    assert (tmp_path / "mem").is_dir()
    assert store.search(("sales",), query="ice cream")[0].key == "note"


# -- a real Chroma server ------------------------------------------------------------------


def _free_port() -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in (8080, 2024):
            return port


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """`chroma run` on a free loopback port, stopped afterwards."""
    exe = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    if not Path(exe).exists():
        pytest.skip("no `chroma` executable (pip install 'commerce-orchestrator[memory]')")
    port = _free_port()
    log = (tmp_path / "chroma.log").open("w")
    proc = subprocess.Popen(
        [
            exe,
            "run",
            "--path",
            str(tmp_path / "server"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None:
                pytest.fail(f"chroma run exited: {(tmp_path / 'chroma.log').read_text()}")
            time.sleep(0.2)
        else:
            pytest.fail("chroma run did not listen within 60 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.mark.integration
def test_two_processes_share_a_chroma_server(chroma_server: str) -> None:
    write = """
        import sys
        from orchestrator.memory import ChromaStore, HashEmbeddings
        store = ChromaStore(url={url!r}, index={{"embed": HashEmbeddings(), "fields": ["text"]}})
        for i in range(5):
            store.put(("insights", "review"), f"{who}-{{i}}", {{"text": "{who} insight " + str(i)}})
        """
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(write.format(url=chroma_server, who=who))],
            env={
                **os.environ,
                "PYTHONPATH": str(Path(__file__).parents[2] / "src"),
                "ANONYMIZED_TELEMETRY": "False",
            },
        )
        for who in ("tuning", "pricing")
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    store = ChromaStore(url=chroma_server, index=INDEX)  # type: ignore[arg-type]
    keys = {i.key for i in store.search(("insights",), limit=50)}
    assert keys == {f"{who}-{i}" for who in ("tuning", "pricing") for i in range(5)}
    assert store.search(("insights",), query="pricing insight 3", limit=1)[0].key == "pricing-3"
