"""Write the tables of ``llm_extract.tables`` as Parquet, CSV, SQLite or DuckDB, and read them back.

Each format is written by its own library, not by hand:

* ``parquet``: a directory with one ``TABLE.parquet`` per table (``pyarrow.parquet``);
* ``csv``: a directory with one ``TABLE.csv`` per table, header first (``pyarrow.csv``); ``aliases``
  is a JSON array, an empty cell is null and ``""`` an empty string;
* ``sqlite``: one database file (the standard library's ``sqlite3``): one table each, columns typed
  TEXT/INTEGER/REAL (dates as ISO text, booleans 0/1, ``aliases`` as JSON), an index on each key;
* ``duckdb``: one database file (``duckdb``), Arrow types kept (``aliases`` is a ``VARCHAR[]``).

``read_tables`` reads any of them back into Arrow tables of the same schema, which the round-trip
tests compare with the JSONL they came from.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from llm_extract.errors import OutputError
from llm_extract.tables import KEYS, SCHEMA, TABLES, arrow_schema

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["FORMATS", "Format", "read_tables", "write_tables"]

Format = Literal["parquet", "csv", "sqlite", "duckdb"]
FORMATS: tuple[Format, ...] = ("parquet", "csv", "sqlite", "duckdb")
_SQLITE_TYPES = {"string": "TEXT", "int64": "INTEGER", "float64": "REAL", "bool": "INTEGER", "date32": "TEXT"}


def write_tables(
    tables: dict[str, pa.Table], out: str | Path, fmt: Format, *, overwrite: bool = False
) -> Path:
    """Write every table to ``out`` (a directory for parquet/csv, a file for sqlite/duckdb)."""
    path = Path(out)
    if path.exists():
        if not overwrite:
            raise OutputError(f"{path} exists: pass overwrite (--overwrite) to replace it")
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    writers = {"parquet": _write_parquet, "csv": _write_csv, "sqlite": _write_sqlite, "duckdb": _write_duckdb}
    writers[fmt](tables, path)
    return path


def read_tables(path: str | Path, fmt: Format) -> dict[str, pa.Table]:
    """Every table written by ``write_tables``, as Arrow tables of the canonical schema."""
    readers = {"parquet": _read_parquet, "csv": _read_csv, "sqlite": _read_sqlite, "duckdb": _read_duckdb}
    return readers[fmt](Path(path))


def _write_parquet(tables: dict[str, pa.Table], path: Path) -> None:
    import pyarrow.parquet as pq

    path.mkdir(parents=True)
    for name in TABLES:
        pq.write_table(tables[name], path / f"{name}.parquet")


def _read_parquet(path: Path) -> dict[str, pa.Table]:
    import pyarrow.parquet as pq

    return {name: pq.read_table(path / f"{name}.parquet", schema=arrow_schema(name)) for name in TABLES}


def _flat(table: pa.Table) -> pa.Table:
    """The table with its list column (``aliases``) as JSON text, for formats without lists."""
    import pyarrow as pa

    for index, field in enumerate(table.schema):
        if pa.types.is_list(field.type):
            values = [
                None if v is None else json.dumps(v, ensure_ascii=False)
                for v in table.column(index).to_pylist()
            ]
            table = table.set_column(index, pa.field(field.name, pa.string()), pa.array(values, pa.string()))
    return table


def _unflat(name: str, table: pa.Table) -> pa.Table:
    """The reverse of ``_flat``, then cast to the canonical schema."""
    import pyarrow as pa

    schema = arrow_schema(name)
    for index, field in enumerate(schema):
        if pa.types.is_list(field.type):
            values = [None if v is None else json.loads(v) for v in table.column(field.name).to_pylist()]
            table = table.set_column(index, field, pa.array(values, field.type))
    return table.select(schema.names).cast(schema)


def _write_csv(tables: dict[str, pa.Table], path: Path) -> None:
    import pyarrow.csv as csv

    path.mkdir(parents=True)
    for name in TABLES:
        # Quote every string, so "" (an empty string) and an empty cell (null) stay different.
        options = csv.WriteOptions(quoting_style="all_valid")
        csv.write_csv(_flat(tables[name]), path / f"{name}.csv", write_options=options)


def _read_csv(path: Path) -> dict[str, pa.Table]:
    import pyarrow as pa
    import pyarrow.csv as csv

    out = {}
    for name in TABLES:
        flat = pa.schema(
            [(f.name, pa.string() if pa.types.is_list(f.type) else f.type) for f in arrow_schema(name)]
        )
        convert = csv.ConvertOptions(
            column_types=flat, strings_can_be_null=True, quoted_strings_can_be_null=False
        )
        table = csv.read_csv(path / f"{name}.csv", convert_options=convert)
        out[name] = _unflat(name, table)
    return out


def _write_sqlite(tables: dict[str, pa.Table], path: Path) -> None:
    import sqlite3

    with sqlite3.connect(path) as db:
        for name in TABLES:
            columns = ", ".join(f'"{c}" {_SQLITE_TYPES.get(t, "TEXT")}' for c, t in SCHEMA[name])
            db.execute(f'CREATE TABLE "{name}" ({columns})')
            keys = ", ".join(f'"{k}"' for k in KEYS[name])
            db.execute(f'CREATE INDEX "{name}_key" ON "{name}" ({keys})')
            marks = ", ".join("?" for _ in SCHEMA[name])
            rows = _flat(tables[name]).to_pylist()
            db.executemany(
                f'INSERT INTO "{name}" VALUES ({marks})',
                ([_sqlite_value(row[c]) for c, _ in SCHEMA[name]] for row in rows),
            )
    db.close()


def _sqlite_value(value: Any) -> Any:
    """A Python value as SQLite stores it: dates as ISO text, booleans as 0/1 (sqlite3 does this)."""
    return value.isoformat() if isinstance(value, date) else value


def _read_sqlite(path: Path) -> dict[str, pa.Table]:
    import sqlite3

    import pyarrow as pa

    out = {}
    with sqlite3.connect(path) as db:
        for name in TABLES:
            cursor = db.execute(f'SELECT * FROM "{name}"')
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor]
            for row in rows:
                for column, kind in SCHEMA[name]:
                    if kind == "date32" and row[column] is not None:
                        row[column] = date.fromisoformat(row[column])
                    elif kind == "bool" and row[column] is not None:
                        row[column] = bool(row[column])
            flat = pa.schema(
                [(f.name, pa.string() if pa.types.is_list(f.type) else f.type) for f in arrow_schema(name)]
            )
            out[name] = _unflat(name, pa.Table.from_pylist(rows, schema=flat))
    db.close()
    return out


def _write_duckdb(tables: dict[str, pa.Table], path: Path) -> None:
    import duckdb

    with duckdb.connect(str(path)) as db:
        for name in TABLES:
            db.register("_source", tables[name])
            db.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _source')
            db.unregister("_source")


def _read_duckdb(path: Path) -> dict[str, pa.Table]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as db:
        return {
            name: db.sql(f'SELECT * FROM "{name}"').to_arrow_table().cast(arrow_schema(name))
            for name in TABLES
        }
