"""Per-source config validation happens at create_pipeline time and names source, field and fix."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from floe_core import ErrorCategory, ErrorCode, IngestionConfig, PipelineConfigurationError
from floe_ingestion_dlt import DltIngestionPlugin, DltPluginConfig


def _config(source_type: str, source_config: dict[str, Any], **kw: Any) -> IngestionConfig:
    return IngestionConfig(
        name="src",
        source_type=source_type,
        source_config=source_config,
        destination_table=kw.pop("destination_table", "bronze.t"),
        **kw,
    )


def _error(config: IngestionConfig) -> PipelineConfigurationError:
    with pytest.raises(PipelineConfigurationError) as info:
        DltIngestionPlugin().create_pipeline(config)
    assert info.value.category is ErrorCategory.CONFIGURATION
    return info.value


def test_plugin_identity() -> None:
    plugin = DltIngestionPlugin()
    assert plugin.name == "dlt"
    assert plugin.is_external is False
    assert plugin.list_available_sources() == ["filesystem", "rest_api", "sql_database"]
    assert plugin.get_config_schema() is DltPluginConfig
    assert plugin.floe_api_version == "1.0"


def test_plugin_config_is_validated() -> None:
    assert DltIngestionPlugin({"batch_rows": 10}).settings.batch_rows == 10
    with pytest.raises(PipelineConfigurationError, match="sql_backend"):
        DltIngestionPlugin({"sql_backend": "pandas"})


def test_unknown_field_names_source_field_and_fix() -> None:
    err = _error(_config("sql_database", {"connection_string": "sqlite://", "tabels": ["a"]}))
    assert err.code is ErrorCode.INVALID_CONFIG
    assert "'src'" in err.message
    assert "'tabels'" in err.message
    assert "did you mean 'tables'" in err.message


def test_unknown_source_type_lists_implemented_ones() -> None:
    err = _error(_config("sql_databse", {}))
    assert "did you mean 'sql_database'" in err.message
    assert "filesystem, rest_api, sql_database" in err.message


def test_sql_needs_one_way_to_connect() -> None:
    err = _error(_config("sql_database", {"tables": ["a"]}))
    assert "connection_string" in err.message


def test_sql_one_table_destination_with_several_tables_is_rejected() -> None:
    err = _error(_config("sql_database", {"connection_string": "sqlite://", "tables": ["a", "b"]}))
    assert "bronze.*" in err.message
    err = _error(_config("sql_database", {"connection_string": "sqlite://"}))
    assert "all tables" in err.message


def test_sql_malformed_url_does_not_echo_it() -> None:
    err = _error(
        _config("sql_database", {"connection_string": "::not a url s3cret", "tables": ["a"]})
    )
    assert "connection_string" in err.message
    assert "s3cret" not in err.message


def test_sql_url_password_from_secret() -> None:
    from floe_ingestion_dlt.sources import SQL_DATABASE, SqlDatabaseSourceConfig
    from floe_ingestion_dlt.sources._sql_connect import sql_url

    config = IngestionConfig(
        name="pg",
        source_type="sql_database",
        source_config={
            "credentials": {
                "drivername": "postgresql",
                "host": "127.0.0.1",
                "port": 5432,
                "username": "u",
                "database": "d",
            },
            "tables": ["t"],
        },
        destination_table="bronze.t",
        secret_refs={"credentials.password": "env:PG_PW"},
        secrets={"credentials.password": "p@ss word"},
    )
    source = SQL_DATABASE.parse(config)
    assert isinstance(source, SqlDatabaseSourceConfig)
    url = sql_url(source, "pg")
    assert url.password == "p@ss word"
    assert url.host == "127.0.0.1"
    assert url.drivername.startswith("postgresql+")
    assert "p@ss" not in repr(DltIngestionPlugin().create_pipeline(config))


def test_dollar_text_is_not_interpolated_again() -> None:
    # floe-core interpolates floe.yaml ('$$' escapes '$'); the plugin takes values as given
    from floe_ingestion_dlt.sources import SQL_DATABASE, SqlDatabaseSourceConfig

    config = _config("sql_database", {"connection_string": "sqlite:///${X}.db", "tables": ["a"]})
    source = SQL_DATABASE.parse(config)
    assert isinstance(source, SqlDatabaseSourceConfig)
    assert source.connection_string == "sqlite:///${X}.db"


def test_filesystem_format_inferred_or_required(tmp_path: Any) -> None:
    plugin = DltIngestionPlugin()
    ok = plugin.create_pipeline(
        _config("filesystem", {"bucket_url": str(tmp_path), "file_glob": "*.jsonl"})
    )
    assert ok.source.file_format == "jsonl"  # type: ignore[attr-defined]
    err = _error(_config("filesystem", {"bucket_url": str(tmp_path), "file_glob": "*"}))
    assert "format" in err.message
    err = _error(_config("filesystem", {"bucket_url": str(tmp_path), "format": "xml"}))
    assert "format" in err.message
    err = _error(
        _config(
            "filesystem",
            {"bucket_url": "s3://b/p", "format": "csv", "credentials": {"aws_key": "x"}},
        )
    )
    assert "aws_key" in err.message and "aws_access_key_id" in err.message
    err = _error(_config("filesystem", {"bucket_url": "gs://b/p", "format": "csv"}))
    assert "s3://" in err.message


def test_rest_api_config_is_validated_by_dlt_at_create_time() -> None:
    err = _error(
        _config(
            "rest_api",
            {
                "client": {"base_url": "http://127.0.0.1:1/", "paginator": {"type": "no_such"}},
                "resources": ["items"],
            },
        )
    )
    assert "rest_api" in err.message
    err = _error(_config("rest_api", {"client": {"base_url": "http://x"}, "resources": []}))
    assert "resources" in err.message


def test_rest_api_several_resources_need_wildcard_destination() -> None:
    source = {"client": {"base_url": "http://127.0.0.1:1/"}, "resources": ["a", "b"]}
    err = _error(_config("rest_api", source))
    assert "bronze.*" in err.message
    DltIngestionPlugin().create_pipeline(_config("rest_api", source, destination_table="bronze.*"))


@pytest.mark.parametrize(
    ("url", "package"), [("oracle://u@127.0.0.1:1/db", "oracledb"), ("mssql://u@h/db", "pyodbc")]
)
def test_sql_driver_that_is_not_installed_is_a_configuration_error(
    url: str, package: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, package, None)  # absent even where it is installed
    err = _error(_config("sql_database", {"connection_string": url, "tables": ["o"]}))
    assert err.code is ErrorCode.INVALID_CONFIG
    assert f"install the Python package {package!r}" in err.message
    assert err.details["field"] == "connection_string"
    assert err.details["package"] == package


_BASE = "http://127.0.0.1:1/"


@pytest.mark.parametrize(
    ("client", "field", "expected"),
    [
        (
            {"base_url": _BASE, "paginator": {"type": "json_link", "next_url_pathh": "next"}},
            "config.client.paginator.next_url_pathh",
            "did you mean 'next_url_path'?",
        ),
        (
            {"base_url": _BASE, "auth": {"type": "bearer", "tokn": "x"}},
            "config.client.auth.tokn",
            "did you mean 'token'?",
        ),
        (
            {"base_url": _BASE, "auth": {"type": "api_key", "api_key": "k", "location": "headr"}},
            "config.client.auth.location",
            "did you mean 'header'?",
        ),
        (
            {"base_url": _BASE, "auth": {"type": "http_basic", "username": "u", "pasword": "p"}},
            "config.client.auth.pasword",
            "did you mean 'password'?",
        ),
        ({"base_urll": _BASE}, "config.client.base_urll", "did you mean 'base_url'?"),
        ({"base_url": _BASE, "headr": {}}, "config.client.headr", "did you mean 'headers'?"),
        (
            {"base_url": _BASE, "paginator": "json_linkk"},
            "config.client.paginator",
            "did you mean 'json_link'?",
        ),
    ],
)
def test_rest_api_error_names_yaml_path_field_and_fix(
    client: dict[str, Any], field: str, expected: str
) -> None:
    err = _error(_config("rest_api", {"client": client, "resources": ["items"]}))
    assert err.code is ErrorCode.INVALID_CONFIG
    assert err.details["field"] == field
    assert err.message.startswith(f"source 'src' (rest_api): {field}: ")
    assert expected in err.message
    assert "PageNumberPaginator" not in err.message  # not dlt's list of every class


@pytest.mark.parametrize(
    ("client", "secret_refs"),
    [
        ({"base_url": _BASE}, "client.auth"),  # one level too high: the token is the auth
        ({"base_url": _BASE, "auth": {"type": "http_basic", "username": "u"}}, "client.auth.pw"),
        ({"base_url": _BASE, "auth": {"type": "bearer", "tokn": "x"}}, "client.auth.token"),
        ({"base_url": _BASE, "headers": {"n": 5}}, "client.headers.X-Token"),
        ({}, "client.base_url"),
    ],
)
def test_rest_api_errors_never_show_a_resolved_secret(
    client: dict[str, Any], secret_refs: str, caplog: pytest.LogCaptureFixture
) -> None:
    from pydantic import SecretStr
    from structlog.testing import capture_logs

    secret = "SUPERSECRET123"
    config = _config(
        "rest_api",
        {"client": client, "resources": ["items"]},
        secret_refs={secret_refs: "env:AUDIT_TOKEN"},
        secrets={secret_refs: SecretStr(secret)},
    )
    caplog.set_level("DEBUG")
    with capture_logs() as logs:
        err = _error(config)
    assert secret not in caplog.text
    assert secret not in err.message
    assert secret not in str(err)
    assert secret not in repr(err.details)
    assert secret not in err.to_detail().model_dump_json()
    assert secret not in repr(logs)
    assert "Provided value" not in err.message


def test_rest_api_base_url_needs_a_scheme() -> None:
    err = _error(_config("rest_api", {"client": {"base_url": "127.0.0.1:8/"}, "resources": ["a"]}))
    assert "client.base_url must start with http:// or https://" in err.message
    assert err.details["fields"] == ["client"]
    err = _error(_config("rest_api", {"client": {"base_url": 5}, "resources": ["a"]}))
    assert "client.base_url" in err.message


def test_rest_api_request_timeout_is_validated() -> None:
    source = {"client": {"base_url": _BASE}, "resources": ["a"]}
    ok = DltIngestionPlugin().create_pipeline(
        _config("rest_api", {**source, "request_timeout_seconds": 2.5})
    )
    assert ok.source.request_timeout_seconds == 2.5  # type: ignore[attr-defined]
    err = _error(_config("rest_api", {**source, "request_timeout_seconds": 0}))
    assert "request_timeout_seconds" in err.message
