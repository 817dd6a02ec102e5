import pytest
from pydantic import SecretStr, ValidationError

from floe_core.errors import ErrorCategory, ErrorCode, ErrorDetail
from floe_core.ingestion import (
    IngestionConfig,
    IngestionResult,
    SchemaContract,
    WriteMode,
)
from floe_core.secret import SecretRef


def _config(**overrides: object) -> IngestionConfig:
    fields: dict[str, object] = {
        "name": "orders",
        "source_type": "rest_api",
        "destination_table": "bronze.orders",
    }
    fields.update(overrides)
    return IngestionConfig.model_validate(fields)


def test_defaults() -> None:
    config = _config()
    assert config.write_mode is WriteMode.APPEND
    assert config.schema_contract is SchemaContract.EVOLVE
    assert (config.namespace, config.table) == ("bronze", "orders")


def test_wildcard_table_means_one_table_per_resource() -> None:
    config = _config(destination_table="bronze.*")
    assert (config.namespace, config.table) == ("bronze", None)


def test_nested_namespace() -> None:
    config = _config(destination_table="lake.bronze.orders")
    assert (config.namespace, config.table) == ("lake.bronze", "orders")


@pytest.mark.parametrize("table", ["orders", ".orders", "bronze.", "bronze._x", "a.*.b", "b-r.x"])
def test_bad_destination_table_names_the_expected_shape(table: str) -> None:
    with pytest.raises(ValidationError) as info:
        _config(destination_table=table)
    assert "destination_table" in str(info.value)


def test_one_key_is_a_list_and_the_model_knows_no_source_type() -> None:
    assert _config(write_mode="merge", primary_key="id").primary_key == ("id",)
    # merge without a key is checked with the plugin (check_merge_key), not by the model
    assert _config(source_type="anything", write_mode="merge").primary_key == ()


@pytest.mark.parametrize(
    ("write_mode", "key", "supplied", "fails"),
    [
        ("merge", (), False, True),
        ("merge", (), True, False),
        ("merge", ("id",), False, False),
        ("append", (), False, False),
    ],
)
def test_check_merge_key(
    write_mode: str, key: tuple[str, ...], supplied: bool, fails: bool
) -> None:
    from floe_core._location import check_merge_key

    config = _config(write_mode=write_mode, primary_key=key)
    error = check_merge_key(config, supplied, file="floe.yaml", index=2)
    if not fails:
        assert error is None
        return
    assert error is not None
    assert error.category is ErrorCategory.CONFIGURATION and error.code is ErrorCode.INVALID_CONFIG
    assert error.details["field_path"] == "ingestion.sources[2].destination.primary_key"
    assert error.message.startswith(
        "floe.yaml: ingestion.sources[2].destination.primary_key: write_disposition 'merge' "
        "needs primary_key"
    )


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(ValidationError, match="write_disposition"):
        _config(write_disposition="append")


def test_bad_enum_lists_valid_values() -> None:
    with pytest.raises(ValidationError) as info:
        _config(schema_contract="frozen")
    message = str(info.value)
    assert "'evolve'" in message and "'discard_row'" in message


def test_secrets_are_masked_and_injected_only_on_request() -> None:
    config = _config(
        source_config={"client": {"auth": {"type": "bearer"}}},
        secret_refs={"client.auth.token": "env:API_TOKEN"},
        secrets={"client.auth.token": SecretStr("s3cr3t")},
    )
    assert config.secret_refs["client.auth.token"] == SecretRef(env="API_TOKEN")
    assert "s3cr3t" not in repr(config)
    assert "s3cr3t" not in config.model_dump_json()
    assert config.source_config == {"client": {"auth": {"type": "bearer"}}}
    resolved = config.source_config_with_secrets()
    assert resolved == {"client": {"auth": {"type": "bearer", "token": "s3cr3t"}}}
    assert config.source_config == {"client": {"auth": {"type": "bearer"}}}


def test_result_retryable_only_when_every_error_is() -> None:
    transient = ErrorDetail(
        code=ErrorCode.SOURCE_UNAVAILABLE,
        category=ErrorCategory.TRANSIENT,
        message="refused",
        retryable=True,
    )
    permanent = transient.model_copy(
        update={"category": ErrorCategory.PERMANENT, "retryable": False}
    )
    failed = IngestionResult(source="orders", success=False, errors=[transient])
    assert failed.retryable and failed.error_category is ErrorCategory.TRANSIENT
    assert not IngestionResult(source="o", success=False, errors=[transient, permanent]).retryable
    assert not IngestionResult(source="o", success=True).retryable


def test_snapshot_properties_reserve_the_floe_prefix() -> None:
    assert _config(snapshot_properties={"dagster.run-id": "r1"}).snapshot_properties == {
        "dagster.run-id": "r1"
    }
    with pytest.raises(ValidationError, match=r"reserved prefix 'floe\.'"):
        _config(snapshot_properties={"floe.load-id": "x"})
