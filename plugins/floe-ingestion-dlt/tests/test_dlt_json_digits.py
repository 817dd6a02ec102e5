"""The JSON rule keeps every digit: nested numbers from JSONL land as written (compact form)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from floe_core import CatalogConfig, IngestionConfig
from floe_iceberg import load_catalog
from floe_ingestion_dlt import DltIngestionPlugin
from floe_ingestion_dlt._arrow import _to_json

LINES = [
    '{"id": 1, "big": 12345678901234567890123, "x": 0.5, '
    '"o": {"n": 12345678901234567890123, "f": 0.1000000000000000055511151231257827, '
    '"e": 1e308, "b": 1, "a": 2}}',
    '{"id": 2, "big": 7, "x": 0.1000000000000000055511151231257827, "o": {"l": [1.5, 2]}}',
]


def test_jsonl_numbers_keep_their_digits(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "rows.jsonl").write_text("\n".join(LINES) + "\n")
    catalog = CatalogConfig.embedded(tmp_path / "warehouse")
    config = IngestionConfig(
        name="events",
        source_type="filesystem",
        source_config={"bucket_url": str(folder), "file_glob": "*.jsonl"},
        destination_table="bronze.events",
    )
    plugin = DltIngestionPlugin(catalog=catalog)
    result = plugin.run(plugin.create_pipeline(config))
    assert result.success, result.errors

    table = load_catalog(catalog).load_table("bronze.events")
    types = {f.name: str(f.field_type) for f in table.schema().fields}
    assert types == {"id": "long", "big": "decimal(38, 0)", "x": "double", "o": "string"}
    rows = table.scan().to_arrow().sort_by("id").to_pylist()
    # an integer beyond int64 stays exact (orjson read it as 1.2345678901234568e22)
    assert [r["big"] for r in rows] == [Decimal("12345678901234567890123"), Decimal(7)]
    # nested: compact, keys sorted, every digit kept
    assert rows[0]["o"] == (
        '{"a":2,"b":1,"e":1e+308,"f":0.1000000000000000055511151231257827,'
        '"n":12345678901234567890123}'
    )
    assert rows[1]["o"] == '{"l":[1.5,2]}'
    # a top-level column is a double: the nearest one
    assert [r["x"] for r in rows] == [0.5, 0.1]


def test_nested_decimals_are_written_as_numbers() -> None:
    value = {"b": [Decimal("1.50"), Decimal("-0.000000001")], "a": Decimal("NaN"), "c": "é"}
    assert _to_json(value) == '{"a":"NaN","b":[1.50,-1E-9],"c":"\\u00e9"}'  # exact, valid JSON
    assert _to_json({"k": [1, 2.5, None, True]}) == '{"k":[1,2.5,null,true]}'
