"""``floe ingest`` through the real, installed dlt plugin into the embedded Iceberg catalog."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from floe_core import CatalogConfig
from floe_core.cli import main

FLOE_YAML = """
ingestion:
  sources:
    - name: people
      type: sql_database
      config:
        connection_string: "sqlite:///${FLOE_PROJECT_DIR}/src.db"
        tables: [people]
      destination: {table: bronze.people}
      incremental: {cursor_field: updated_at}
"""


def test_ingest_with_dlt_lands_rows_in_iceberg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    with sqlite3.connect(project / "src.db") as db:
        db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT)")
        db.executemany(
            "INSERT INTO people VALUES (?, ?, ?)",
            [(1, "ada", "2026-01-01"), (2, "grace", "2026-01-02"), (3, "linus", "2026-01-03")],
        )
    (project / "floe.yaml").write_text(textwrap.dedent(FLOE_YAML))
    monkeypatch.chdir(tmp_path)  # no platform-manifest.yaml here: dlt + ./warehouse

    first = CliRunner().invoke(main, ["ingest", "project/floe.yaml", "--json"])
    assert first.exit_code == 0, first.output
    [result] = json.loads(first.stdout)
    assert result["success"] and result["rows_loaded"] == 3
    assert [t["table"] for t in result["tables"]] == ["bronze.people"]

    from pyiceberg.catalog.sql import SqlCatalog

    embedded = CatalogConfig.embedded(tmp_path / "warehouse")
    catalog = SqlCatalog("floe", uri=embedded.uri, warehouse=f"file://{embedded.warehouse}")
    rows = catalog.load_table("bronze.people").scan().to_arrow().sort_by("id")
    assert rows.column("name").to_pylist() == ["ada", "grace", "linus"]

    second = CliRunner().invoke(main, ["ingest", "project/floe.yaml", "--json"])
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)[0]["rows_loaded"] == 0
