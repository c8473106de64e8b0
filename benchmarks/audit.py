"""Seeded-anomaly benchmark of the auditor: find, fix, escalate, per anomaly kind and model.

Seeds a shop of realistic size, injects K anomalies of each kind (the seeder's injector and
rows written straight into the tables as a broken integration would), runs the auditor
through the runtime with each model, and prints detection recall, the share fixed and
escalated per kind, precision, whether check-invariants passes afterwards (only the
escalated oversells should remain), and the time taken.

    .venv/bin/python benchmarks/audit.py [--k 3] [--skus 300] [--days 365]
        [--models scripted,none,llamacpp:smollm2] [--base-url http://127.0.0.1:8080/v1]

`llamacpp:smollm2` starts a llama-server on a free port (unless `--base-url` names a
running one); it is skipped with a note when the server binary or the model is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from orchestrator import load_settings
from orchestrator.evaluation.audit import AuditEval, evaluate_audit


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def local_server(base_url: str | None) -> Iterator[str]:
    if base_url:
        yield base_url
        return
    from orchestrator.backends.local import LocalModelServer

    with LocalModelServer.from_settings(
        load_settings().local_model, port=free_port(), parallel=2, ctx_size=4096
    ) as srv:
        yield srv.base_url


def table(results: list[AuditEval]) -> str:
    kinds = list(results[0].kinds)
    head = (
        "| kind | " + " | ".join(f"{r.model}: recall / fixed / escalated" for r in results) + " |"
    )
    rows = [head, "| --- |" + " ---: |" * len(results)]
    for kind in kinds:
        cells = []
        for r in results:
            k = r.kinds[kind]
            cells.append(f"{k.recall:.0%} / {k.fixed_share:.0%} / {k.escalated_share:.0%}")
        rows.append(
            f"| {kind} ({results[0].kinds[kind].expected_outcome}) | " + " | ".join(cells) + " |"
        )
    rows.append("| precision | " + " | ".join(f"{r.precision:.0%}" for r in results) + " |")
    rows.append("| recall | " + " | ".join(f"{r.recall:.0%}" for r in results) + " |")
    rows.append(
        "| fixed / escalated | " + " | ".join(f"{r.fixed} / {r.escalated}" for r in results) + " |"
    )
    rows.append(
        "| model plans / refused | "
        + " | ".join(f"{r.model_plans} / {r.rejected_proposals}" for r in results)
        + " |"
    )
    rows.append(
        "| check-invariants after | "
        + " | ".join(
            "ok"
            if r.invariants_ok_after
            else ", ".join(f"{k} {n}" for k, n in r.remaining_violations.items())
            for r in results
        )
        + " |"
    )
    rows.append("| audit seconds | " + " | ".join(f"{r.seconds_audit:.1f}" for r in results) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--skus", type=int, default=300)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default="scripted,none,llamacpp:smollm2")
    parser.add_argument("--base-url", default=None, help="a running llama-server /v1 URL")
    parser.add_argument("--json", action="store_true", help="also print each result as JSON")
    args = parser.parse_args()
    results: list[AuditEval] = []
    for model in args.models.split(","):
        folder = Path(tempfile.mkdtemp(prefix="orch-bench-audit-"))
        settings = load_settings(memory={"enabled": False})
        if model.startswith("llamacpp:"):
            try:
                cm = local_server(args.base_url)
                base_url = cm.__enter__()
            except Exception as exc:  # no binary, no model: say so and go on
                print(f"skipping {model}: {type(exc).__name__}: {exc}")
                continue
            try:
                settings = load_settings(
                    memory={"enabled": False},
                    models={"default": model, "base_urls": {"llamacpp": base_url}},
                )
                result = evaluate_audit(
                    folder,
                    model=model,
                    k=args.k,
                    skus=args.skus,
                    days=args.days,
                    seed=args.seed,
                    settings=settings,
                )
            finally:
                cm.__exit__(None, None, None)
        else:
            result = evaluate_audit(
                folder,
                model=model,
                k=args.k,
                skus=args.skus,
                days=args.days,
                seed=args.seed,
                settings=settings,
            )
        results.append(result)
        print(
            f"{model}: {result.ledger_rows:,} ledger rows, precision {result.precision:.0%}, "
            f"recall {result.recall:.0%}, {result.fixed} fixed, {result.escalated} escalated, "
            f"audit {result.seconds_audit:.1f} s",
            flush=True,
        )
        if args.json:
            print(json.dumps(result.model_dump(exclude={"per_finding"}), default=str))
    if results:
        print()
        print(table(results))


if __name__ == "__main__":
    main()
