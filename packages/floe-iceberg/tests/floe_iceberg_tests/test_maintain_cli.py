"""``floe maintain``, reached through floe-core's ``floe`` and the ``floe.commands`` entry point."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from click.testing import CliRunner, Result
from pyiceberg.catalog import Catalog

from floe_core import CatalogConfig
from floe_core.cli import main
from floe_iceberg import load_catalog

from ._maintenance_helpers import checksum, data_files, incremental_load, stored_keys

TABLE = "bronze.people"


def _files(tmp_path: Path, *, override: str = "", table: str = TABLE) -> tuple[Path, Path]:
    manifest = tmp_path / "platform-manifest.yaml"
    manifest.write_text(
        textwrap.dedent(f"""\
            storage: {{type: local, path: "{tmp_path / "warehouse"}"}}
            maintenance: {{snapshot_retention_days: 0, keep_last_snapshots: 1,
                           orphan_window_days: 0, target_file_size_bytes: 100000}}
            """)
    )
    floe_yaml = tmp_path / "floe.yaml"
    floe_yaml.write_text(
        textwrap.dedent(f"""\
            ingestion:
              sources:
                - name: people
                  type: sql_database
                  destination: {{table: "{table}"}}
            """)
        + override
    )
    return floe_yaml, manifest


def _catalog(tmp_path: Path) -> Catalog:
    catalog = load_catalog(CatalogConfig.embedded(tmp_path / "warehouse"))
    for load in range(1, 6):
        incremental_load(catalog, TABLE, load * 100)
    return catalog


def _run(floe_yaml: Path, manifest: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["maintain", str(floe_yaml), "--manifest", str(manifest), "--json", *args]
    )


def test_maintain_compacts_expires_and_reports_json(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path)
    before = checksum(catalog, TABLE)
    floe_yaml, manifest = _files(tmp_path)

    result = _run(floe_yaml, manifest)

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (row,) = report["tables"]
    assert row["table"] == TABLE and row["error"] is None
    done = row["result"]
    assert (done["files_before"], done["files_after"], done["files_compacted"]) == (5, 1, 5)
    assert done["snapshots_expired"] == 5 and done["orphan_files"] > 0
    assert done["orphan_bytes"] > 0 and done["duration_seconds"] >= 0
    assert len(data_files(catalog, TABLE)) == 1
    assert checksum(catalog, TABLE) == before
    assert len(catalog.load_table(TABLE).snapshots()) == 1
    assert report["strays"] == []


def test_dry_run_reports_and_changes_nothing(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path)
    stored = stored_keys(catalog, TABLE)
    floe_yaml, manifest = _files(tmp_path)

    result = _run(floe_yaml, manifest, "--dry-run")

    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)["tables"][0]["result"]
    assert done["dry_run"] and done["files_compacted"] == 5 and done["snapshots_expired"] == 4
    assert stored_keys(catalog, TABLE) == stored
    assert len(catalog.load_table(TABLE).snapshots()) == 5


def test_a_source_override_applies_and_a_bad_one_exits_2(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path)
    override = "      maintenance: {small_file_threshold_bytes: 1}\n"
    floe_yaml, manifest = _files(tmp_path, override=override)

    result = _run(floe_yaml, manifest)

    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)["tables"][0]["result"]
    assert done["files_compacted"] == 0 and done["compaction_skipped"]
    assert len(data_files(catalog, TABLE)) == 5
    bad = "      maintenance: {small_file_threshold_bytes: 200000}\n"  # above the target
    floe_yaml, manifest = _files(tmp_path, override=bad)
    failed = _run(floe_yaml, manifest)
    assert failed.exit_code == 2
    assert json.loads(failed.stdout)["error"]["code"] == "INVALID_CONFIG"


def test_a_namespace_wildcard_maintains_every_table_and_the_table_output(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path)
    for load in range(1, 3):
        incremental_load(catalog, "bronze.other", load * 10)
    floe_yaml, manifest = _files(tmp_path, table="bronze.*")

    result = CliRunner().invoke(main, ["maintain", str(floe_yaml), "--manifest", str(manifest)])

    assert result.exit_code == 0, result.output
    assert "bronze.people" in result.stdout and "bronze.other" in result.stdout
    assert "5 → 1" in result.stdout and "2 → 1" in result.stdout
    assert len(data_files(catalog, "bronze.other")) == 1


def test_a_missing_table_is_skipped_not_failed(tmp_path: Path) -> None:
    floe_yaml, manifest = _files(tmp_path, table="bronze.not_loaded_yet")

    result = _run(floe_yaml, manifest)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tables"][0]["status"] == "skipped: no such table"


def test_maintain_emits_lineage_for_the_compaction_job(tmp_path: Path) -> None:
    _catalog(tmp_path)
    floe_yaml, manifest = _files(tmp_path)
    events = tmp_path / "lineage.jsonl"
    manifest.write_text(
        manifest.read_text()
        + textwrap.dedent(f"""\
            observability:
              lineage: {{enabled: true, transport: {{type: file, log_file_path: "{events}",
                                                     append: true}}}}
            """)
    )
    result = _run(floe_yaml, manifest)
    assert result.exit_code == 0, result.output
    import json

    sent = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    kinds = [(e["eventType"], e["job"]["name"]) for e in sent]
    assert ("START", f"maintenance.compact.{TABLE}") in kinds
    assert ("COMPLETE", f"maintenance.compact.{TABLE}") in kinds
