"""Reading import files: format, delimiter, line numbers, and validation into row models."""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import ValidationError

from orchestrator.errors import ImportFailed, InvalidInput
from orchestrator.store.importer._rows import Row

__all__ = ["DELIMITERS", "ImportFormat", "Parsed", "parse_file", "resolve"]

ImportFormat = Literal["csv", "json"]

DELIMITERS = (",", ";", "\t", "|")
"""The CSV delimiters an import recognises from the header line (comma first)."""

_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass
class Parsed:
    """A file read and validated: good rows, bad rows, and what was learnt about the file."""

    rows: list[tuple[int, Any]] = field(default_factory=list)
    """(line, row model) for every row that validated."""
    errors: list[tuple[int, str]] = field(default_factory=list)
    """(line, message) for every row that did not."""
    columns: list[str] = field(default_factory=list)
    """The CSV header's columns (empty for JSON, whose objects may differ)."""
    delimiter: str | None = None
    sha256: str = ""


def resolve(path: str | Path, fmt: str | None) -> tuple[Path, ImportFormat]:
    """The file and its format (`csv` or `json`), from the extension unless given.

    Raises:
        InvalidInput: no such file, or the format is neither named nor guessable.
    """
    p = Path(path)
    if fmt is None:
        suffix = p.suffix.lower().lstrip(".")
        if suffix not in ("csv", "json"):
            raise InvalidInput(
                "format",
                suffix or p.name,
                f"cannot tell the format of {p.name!r}: name the file .csv or .json, or give "
                "the format (--format csv or --format json on the command line, "
                "format='csv' in Python)",
            )
        fmt = suffix
    if fmt not in ("csv", "json"):
        raise InvalidInput("format", fmt, "use csv or json (--format csv|json, format='csv')")
    if not p.is_file():
        raise InvalidInput("path", str(p), "no such file; check the path")
    return p, cast(ImportFormat, fmt)


def _unknown_column(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"unknown column {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


def _detect_delimiter(header: str, known: set[str]) -> tuple[str, list[str]] | None:
    """The delimiter that splits the header into the most known column names."""
    best: tuple[int, str, list[str]] | None = None
    for delimiter in DELIMITERS:
        cells = [c.strip() for c in next(csv.reader([header], delimiter=delimiter), [])]
        score = sum(1 for c in cells if c in known)
        if score and (best is None or score > best[0]):
            best = (score, delimiter, cells)
    return None if best is None else (best[1], best[2])


def _csv_records(
    text: str, schema: type[Row], key: tuple[str, ...], source: str, parsed: Parsed
) -> Iterator[tuple[int, dict[str, Any]]]:
    known = set(schema.model_fields)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ImportFailed(source, [(1, "empty file: expected a header line")])
    detected = _detect_delimiter(lines[0], known)
    if detected is None:
        raise ImportFailed(
            source,
            [
                (
                    1,
                    f"no known column in the header {lines[0][:80]!r}: expected a header line "
                    f"naming columns such as {', '.join(schema.model_fields)}, separated by "
                    "commas (semicolons, tabs and | are recognised too)",
                )
            ],
        )
    delimiter, header = detected
    parsed.delimiter = delimiter
    parsed.columns = header
    problems = [_unknown_column(h, known) for h in header if h not in known]
    problems += [f"missing column {c!r}" for c in key if c not in header]
    if len(set(header)) != len(header):
        problems.append("a column name repeats")
    if problems:
        expected = ", ".join(schema.model_fields)
        raise ImportFailed(source, [(1, f"{p} (columns: {expected})") for p in problems])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    next(reader)
    last = reader.line_num
    while True:
        start = last + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, {"__error__": f"unreadable row: {exc}"}
            return
        last = reader.line_num
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            name = _DELIMITER_NAMES[delimiter]
            yield (
                start,
                {
                    "__error__": f"{len(cells)} cells, but the header has {len(header)} "
                    f"({name}-separated)"
                },
            )
            continue
        # An empty cell means "not given": an update keeps the stored value.
        yield start, {h: c for h, c in zip(header, cells, strict=True) if c.strip() != ""}


def _json_records(text: str, source: str) -> Iterator[tuple[int, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFailed(source, [(exc.lineno, f"not valid JSON: {exc}")]) from None
    if not isinstance(data, list):
        raise ImportFailed(source, [(1, "expected a JSON array of objects, one per row")])
    for index, item in enumerate(data):
        if isinstance(item, dict):
            # A JSON null means "not given", as an empty CSV cell does.
            item = {k: v for k, v in item.items() if v is not None}
        yield index + 1, item


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        name = ".".join(str(x) for x in err["loc"]) or "row"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "missing":
            parts.append(f"{name}: missing")
        elif err["type"] == "extra_forbidden":
            parts.append(f"unknown field {name!r}")
        else:
            parts.append(f"{name}={err.get('input')!r}: {msg}")
    return "; ".join(parts)


def parse_file(
    path: Path, fmt: ImportFormat, schema: type[Row], key: tuple[str, ...], source: str
) -> Parsed:
    """Read and validate every row; raise `ImportFailed` only for a file unreadable as a whole."""
    raw = path.read_bytes()
    parsed = Parsed(sha256=hashlib.sha256(raw).hexdigest())
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFailed(
            source,
            [
                (
                    raw[: exc.start].count(b"\n") + 1,
                    f"not UTF-8 text ({exc.reason}); save it as UTF-8",
                )
            ],
        ) from None
    records = (
        _json_records(text, source)
        if fmt == "json"
        else _csv_records(text, schema, key, source, parsed)
    )
    for line, record in records:
        if not isinstance(record, dict):
            parsed.errors.append((line, f"expected an object, got {record!r}"))
            continue
        if "__error__" in record:
            parsed.errors.append((line, str(record["__error__"])))
            continue
        try:
            parsed.rows.append((line, schema.model_validate(record)))
        except ValidationError as exc:
            parsed.errors.append((line, _describe(exc)))
    return parsed
