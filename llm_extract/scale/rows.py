"""One Arrow row per ``BatchResult``, field for field: the Parquet output of a run.

Every field of ``BatchResult`` is a column of the same name, so a Parquet row and a JSONL result line
say the same thing (``results_from_table(results_table(rs)) == rs``). Flat records become struct
columns that SQL can reach (``usage.total_tokens``, ``error.type``, ``document.published``); the
extraction, a deep tree of actors, events and claims, is one JSON string column (query it with
DuckDB's ``->>`` or ``json.loads``), so its schema never has to be re-derived when the records grow.

The schema is explicit rather than inferred: a part whose rows all succeeded would otherwise infer
``error`` as a null column, and parts with different schemas do not read back as one table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from llm_extract.schema import BatchResult

__all__ = ["ROW_SCHEMA", "result_row", "results_from_table", "results_table", "row_result"]

_USAGE = pa.struct(
    [("prompt_tokens", pa.int64()), ("completion_tokens", pa.int64()), ("total_tokens", pa.int64())]
)
_ERROR = pa.struct(
    [
        ("type", pa.string()),
        ("message", pa.string()),
        ("attempts", pa.int64()),
        ("raw_output", pa.string()),
        ("retryable", pa.bool_()),
    ]
)
_DOCUMENT = pa.struct(
    [("id", pa.string()), ("text", pa.large_string()), ("title", pa.string()), ("published", pa.date32())]
)

ROW_SCHEMA = pa.schema(
    [
        ("document_id", pa.string()),
        ("status", pa.string()),
        ("document", _DOCUMENT),
        ("extraction", pa.large_string()),  # the Extraction as JSON (None for an error)
        ("error", _ERROR),
        ("cached", pa.bool_()),
        ("usage", _USAGE),
        ("cost_usd", pa.float64()),
        ("latency_s", pa.float64()),
        ("key", pa.string()),
    ]
)


def result_row(result: BatchResult) -> dict[str, Any]:
    """The row of one result (Python values, ready for ``pa.Table.from_pylist(..., ROW_SCHEMA)``)."""
    row = result.model_dump(mode="python", exclude={"extraction"})
    extraction = result.extraction
    row["extraction"] = extraction.model_dump_json() if extraction is not None else None
    return row


def row_result(row: dict[str, Any]) -> BatchResult:
    """The result a row stands for (the inverse of ``result_row``)."""
    data = dict(row)
    if data.get("extraction") is not None:
        data["extraction"] = json.loads(data["extraction"])
    return BatchResult.model_validate(data)


def results_table(results: Iterable[BatchResult]) -> pa.Table:
    """The results as one table of ``ROW_SCHEMA``."""
    return pa.Table.from_pylist([result_row(r) for r in results], schema=ROW_SCHEMA)


def results_from_table(table: pa.Table) -> list[BatchResult]:
    """Every row of ``table`` as a ``BatchResult``, in table order."""
    return [row_result(row) for row in table.to_pylist()]
