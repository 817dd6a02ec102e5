"""``floe_iceberg.__all__`` is the whole public API, every name imports, importing stays cheap."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import floe_iceberg


def test_all_lists_exactly_the_public_names() -> None:
    eager = {
        name
        for name, value in vars(floe_iceberg).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    } - {"TYPE_CHECKING", "Any", "annotations"}
    assert set(floe_iceberg.__all__) == eager | set(floe_iceberg._LAZY)


@pytest.mark.parametrize("name", floe_iceberg.__all__)
def test_every_public_name_imports_and_is_documented(name: str) -> None:
    value = getattr(floe_iceberg, name)
    assert value is not None
    if callable(value):
        assert inspect.getdoc(value), f"{name} has no docstring"
    assert name in dir(floe_iceberg)


def test_importing_floe_iceberg_or_its_constants_does_not_import_pyiceberg() -> None:
    code = (
        "import sys; from floe_iceberg import DETECTED_TIMESTAMP, TIMESTAMPTZ, split_table_name; "
        "print(sorted(m for m in ('pyiceberg', 'dlt', 'floe_iceberg.writer') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        floe_iceberg.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


def test_the_table_name_rule() -> None:
    from floe_core import ErrorCode, PipelineConfigurationError

    assert floe_iceberg.split_table_name("bronze.orders") == ("bronze", "orders")
    assert floe_iceberg.split_table_name("a.b.orders") == ("a", "b", "orders")
    for bad in ("orders", ".orders", "bronze.", "bronze._x", "bronze.or-ders", "bronze.x\n"):
        with pytest.raises(PipelineConfigurationError) as caught:
            floe_iceberg.split_table_name(bad)
        assert caught.value.code is ErrorCode.DESTINATION_CONFIG_ERROR
    assert floe_iceberg.is_identifier("orders_2") and not floe_iceberg.is_identifier("_x")


def test_the_column_name_rule() -> None:
    from floe_core import DestinationWriteError, ErrorCode

    floe_iceberg.check_column_name("Order Id")  # spaces and case are fine
    for bad in ("", "a.b", "a\tb"):
        with pytest.raises(DestinationWriteError) as caught:
            floe_iceberg.check_column_name(bad)
        assert caught.value.code is ErrorCode.SCHEMA_CORRUPTION
