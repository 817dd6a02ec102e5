from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import SecretStr

from floe_core import CatalogConfig, ErrorCategory, ErrorCode
from floe_core._loader import ConfigFileError
from floe_core.manifest import PlatformManifest

FULL = """
plugins:
  ingestion:
    type: airbyte
    config: {url: "http://127.0.0.1:8000"}
    retry: {max_attempts: 5, initial_delay_seconds: 0.5, max_delay_seconds: 10,
            backoff_multiplier: 3, retryable_categories: [TRANSIENT, PARTIAL]}
catalog:
  type: rest
  name: lake
  uri: http://127.0.0.1:8181/catalog
  warehouse: bronze
  credential: {secret_ref: "env:CATALOG_CREDENTIAL"}
  scope: PRINCIPAL_ROLE:ALL
  properties: {s3.region: eu-west-1}
storage:
  type: s3
  endpoint: ${S3_ENDPOINT}
  region: us-east-1
  access_key_id: {secret_ref: "file:s3-key"}
  secret_access_key: ${S3_SECRET}
secrets_dir: secrets
observability:
  logs: {format: console, level: debug}
  lineage: {enabled: true, namespace: prod, transport: {type: console}}
"""
ENV = {
    "CATALOG_CREDENTIAL": "client:secret",
    "S3_ENDPOINT": "http://127.0.0.1:9000",
    "S3_SECRET": "very-secret",
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "platform-manifest.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    (tmp_path / "secrets").mkdir(exist_ok=True)
    (tmp_path / "secrets" / "s3-key").write_text("AKIA-TEST\n")
    return path


def load_error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> ConfigFileError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigFileError) as info:
        PlatformManifest.load(path, environ=ENV if env is None else env)
    assert info.value.category is ErrorCategory.CONFIGURATION
    assert str(path) in info.value.message
    return info.value


def test_default_manifest_is_dlt_and_embedded_catalog() -> None:
    manifest = PlatformManifest.default()
    assert manifest.plugins.ingestion.type == "dlt"
    assert manifest.plugins.ingestion.retry.max_attempts == 3
    assert manifest.plugins.ingestion.retry.retryable_categories == (ErrorCategory.TRANSIENT,)
    assert manifest.observability.logs.format == "json"
    assert manifest.observability.lineage.enabled is False
    assert manifest.catalog_config() == CatalogConfig.embedded()
    assert manifest.file is None


def test_full_manifest_loads_with_secrets_resolved(tmp_path: Path) -> None:
    manifest = PlatformManifest.load(write(tmp_path, FULL), environ=ENV)
    ingestion = manifest.plugins.ingestion
    assert ingestion.type == "airbyte"
    assert ingestion.config == {"url": "http://127.0.0.1:8000"}
    assert ingestion.retry.backoff_multiplier == 3
    assert ingestion.retry.retryable_categories == (ErrorCategory.TRANSIENT, ErrorCategory.PARTIAL)
    assert manifest.catalog is not None and manifest.storage is not None
    assert isinstance(manifest.catalog.credential, SecretStr)
    assert manifest.catalog.credential.get_secret_value() == "client:secret"
    assert manifest.storage.access_key_id is not None
    assert manifest.storage.access_key_id.get_secret_value() == "AKIA-TEST"
    assert manifest.secrets_dir == (tmp_path / "secrets").absolute()
    assert manifest.observability.logs.level == "DEBUG"
    assert manifest.observability.lineage.transport == {"type": "console"}
    for secret in ("client:secret", "AKIA-TEST", "very-secret"):
        assert secret not in repr(manifest)


def test_catalog_config_folds_s3_storage_into_properties(tmp_path: Path) -> None:
    catalog = PlatformManifest.load(write(tmp_path, FULL), environ=ENV).catalog_config()
    assert type(catalog) is CatalogConfig
    assert catalog.type == "rest" and catalog.warehouse == "bronze"
    assert catalog.credential is not None
    assert catalog.credential.get_secret_value() == "client:secret"
    assert catalog.properties == {
        "s3.endpoint": "http://127.0.0.1:9000",
        "s3.region": "eu-west-1",  # catalog.properties win over storage
        "s3.access-key-id": "AKIA-TEST",
        "s3.secret-access-key": "very-secret",
        "s3.path-style-access": "true",
    }


def test_local_storage_path_becomes_the_embedded_warehouse(tmp_path: Path) -> None:
    text = "storage: {type: local, path: '${FLOE_PROJECT_DIR}/lake'}\n"
    manifest = PlatformManifest.load(write(tmp_path, text), environ={})
    assert manifest.catalog_config() == CatalogConfig.embedded(tmp_path / "lake")
    text = "catalog: {type: sql, uri: 'sqlite:///x.db'}\nstorage: {type: local, path: /data}\n"
    catalog = PlatformManifest.load(write(tmp_path, text), environ={}).catalog_config()
    assert catalog.warehouse == "/data" and catalog.uri == "sqlite:///x.db"


def test_project_dir_can_be_given(tmp_path: Path) -> None:
    text = "storage: {type: local, path: '${FLOE_PROJECT_DIR}/lake'}\n"
    manifest = PlatformManifest.load(write(tmp_path, text), environ={}, project_dir="/p")
    assert manifest.storage is not None and manifest.storage.path == "/p/lake"


def test_unknown_plugin_key_suggests(tmp_path: Path) -> None:
    err = load_error(tmp_path, "plugins:\n  ingestion:\n    typ: dlt\n")
    assert err.field == "plugins.ingestion.typ"
    assert "did you mean 'type'?" in err.message


def test_bad_catalog_type_lists_valid(tmp_path: Path) -> None:
    err = load_error(tmp_path, "catalog: {type: glue}\n")
    assert err.field == "catalog.type"
    assert "'sql' or 'rest'" in err.message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("catalog: {type: rest}", "catalog.uri: type 'rest' needs 'uri' (the catalog's base URL)"),
        (
            "catalog: {type: rest, uri: 'http://h', credential: 'a:b', token: t}",
            "catalog.token: give 'credential' (OAuth client id:secret) or 'token', not both",
        ),
        (
            "storage: {type: s3, access_key_id: ak}",
            "storage.secret_access_key: missing: give both access_key_id and "
            "secret_access_key, or neither",
        ),
        (
            "storage: {type: s3, secret_access_key: sk}",
            "storage.access_key_id: missing: give both access_key_id and "
            "secret_access_key, or neither",
        ),
        (
            "storage: {type: local, endpoint: 'http://h'}",
            "storage.endpoint: 'endpoint' is for type 's3'; set type: s3 (or remove endpoint)",
        ),
    ],
)
def test_catalog_and_storage_rules_name_the_field_once(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = write(tmp_path, text + "\n")
    err = load_error(tmp_path, text + "\n", env={})
    assert err.message == f"{path}: {problem}"


def test_retry_rejects_configuration_and_bad_numbers(tmp_path: Path) -> None:
    err = load_error(
        tmp_path, "plugins: {ingestion: {retry: {retryable_categories: [CONFIGURATION]}}}\n"
    )
    assert [(p.field, p.message) for p in err.problems] == [
        (
            "plugins.ingestion.retry.retryable_categories[0]",
            "CONFIGURATION failures are never retried; use TRANSIENT, PERMANENT or PARTIAL",
        )
    ]
    err = load_error(tmp_path, "plugins: {ingestion: {retry: {max_attempts: 0}}}\n")
    assert err.field == "plugins.ingestion.retry.max_attempts"
    err = load_error(
        tmp_path,
        "plugins: {ingestion: {retry: {initial_delay_seconds: 5, max_delay_seconds: 1}}}\n",
    )
    assert err.field == "plugins.ingestion.retry.max_delay_seconds"


def test_wrong_type(tmp_path: Path) -> None:
    err = load_error(tmp_path, "observability: {lineage: {enabled: maybe}}\n")
    assert err.field == "observability.lineage.enabled"
    assert err.message.endswith(
        "enabled: must be true or false (got a string other than true/false)"
    )


def test_missing_env_secret_ref(tmp_path: Path) -> None:
    env = {k: v for k, v in ENV.items() if k != "CATALOG_CREDENTIAL"}
    err = load_error(tmp_path, FULL, env=env)
    assert err.code is ErrorCode.SECRET_NOT_FOUND
    assert err.field == "catalog.credential"
    assert "export CATALOG_CREDENTIAL" in err.message


def test_missing_file_secret_ref(tmp_path: Path) -> None:
    err = load_error(tmp_path, FULL.replace("file:s3-key", "file:other-key"))
    assert err.code is ErrorCode.SECRET_NOT_FOUND
    assert err.field == "storage.access_key_id"
    assert "other-key" in err.message


def test_bad_secret_ref_syntax(tmp_path: Path) -> None:
    err = load_error(tmp_path, FULL.replace('"env:CATALOG_CREDENTIAL"', '"vault:x"'))
    assert err.field == "catalog.credential"
    assert err.problems[0].message == SHORT_FORM
    err = load_error(tmp_path, FULL.replace('{secret_ref: "env:CATALOG_CREDENTIAL"}', "{env: X}"))
    assert err.field == "catalog.credential"
    assert (
        "or {secret_ref: 'env:NAME'} / {secret_ref: 'file:NAME'}, not a mapping with keys env"
        in (err.message)
    )


SHORT_FORM = (
    "a secret reference is 'env:NAME' (an environment variable) or 'file:NAME' (a file in the "
    "secrets directory), or a mapping {env: NAME} / {file: NAME}"
)


def test_token_written_in_place_of_its_reference_is_never_echoed(tmp_path: Path) -> None:
    """``token: {secret_ref: "${CAT_TOKEN}"}`` interpolates the token itself."""
    text = 'catalog: {type: rest, uri: "http://127.0.0.1:1", token: {secret_ref: "${CAT_TOKEN}"}}\n'
    err = load_error(tmp_path, text, env={"CAT_TOKEN": "tok-canary-9d2f"})
    assert [(p.field, p.message) for p in err.problems] == [("catalog.token", SHORT_FORM)]
    assert "canary" not in err.message and "canary" not in str(err.details)


def test_file_secret_ref_must_stay_inside_the_secrets_dir(tmp_path: Path) -> None:
    err = load_error(tmp_path, FULL.replace("file:s3-key", "file:../../s3-key"))
    assert err.field == "storage.access_key_id"
    assert "file: names a file inside the secrets directory" in err.message


def test_missing_env_var_in_manifest(tmp_path: Path) -> None:
    err = load_error(tmp_path, FULL, env={"CATALOG_CREDENTIAL": "x", "S3_SECRET": "y"})
    assert err.field == "storage.endpoint"
    assert "S3_ENDPOINT is not set" in err.message


def test_secret_values_never_appear_in_errors(tmp_path: Path) -> None:
    text = FULL.replace("warehouse: bronze", "warehouse: ${S3_SECRET}\n  bogus: ${S3_SECRET}")
    err = load_error(tmp_path, text.replace("name: lake", "name: [lake]"))
    assert "very-secret" not in err.message and "very-secret" not in str(err.details)


def test_error_helper_names_file_and_field(tmp_path: Path) -> None:
    manifest = PlatformManifest.load(write(tmp_path, "plugins: {ingestion: {type: dtl}}\n"))
    err = manifest.error("plugins.ingestion.type", "no plugin 'dtl'")
    assert err.field == "plugins.ingestion.type" and str(manifest.file) in err.message
    assert "(default platform manifest)" in PlatformManifest.default().error("x", "y").message


def test_catalog_properties_accept_yaml_scalars(tmp_path: Path) -> None:
    text = "catalog: {type: sql, properties: {s3.path-style-access: true, downcast: 1}}\n"
    manifest = PlatformManifest.load(write(tmp_path, text), environ={})
    assert manifest.catalog_config().properties == {"s3.path-style-access": "true", "downcast": "1"}


def test_s3_storage_path_is_the_warehouse_of_a_sql_catalog(tmp_path: Path) -> None:
    text = "storage: {type: s3, path: 's3://lake/bronze', endpoint: 'http://127.0.0.1:9000'}\n"
    catalog = PlatformManifest.load(write(tmp_path, text), environ={}).catalog_config()
    assert catalog.type == "sql" and catalog.warehouse == "s3://lake/bronze"
    assert catalog.uri == CatalogConfig.embedded().uri
    assert catalog.properties["s3.endpoint"] == "http://127.0.0.1:9000"
    rest = "catalog: {type: rest, uri: 'http://127.0.0.1:8181', warehouse: wh}\n" + text
    catalog = PlatformManifest.load(write(tmp_path, rest), environ={}).catalog_config()
    assert catalog.warehouse == "wh"


def test_s3_storage_path_must_be_a_url(tmp_path: Path) -> None:
    err = load_error(tmp_path, "storage: {type: s3, path: /data}\n", env={})
    assert err.field == "storage.path" and "s3://" in err.message


@pytest.mark.parametrize(
    ("value", "got"),
    [
        ("5", "a number"),
        ("[a, b]", "a list"),
        ("{a: 1}", "a mapping"),
        ("true", "a boolean"),
        ("''", "an empty string"),
    ],
)
def test_secrets_dir_must_be_a_path(tmp_path: Path, value: str, got: str) -> None:
    err = load_error(tmp_path, f"secrets_dir: {value}\n")
    assert err.code is ErrorCode.INVALID_CONFIG
    assert [(p.field, p.message) for p in err.problems] == [
        ("secrets_dir", f"must be a folder path (a string), not {got}")
    ]


def test_secrets_dir_null_means_unset(tmp_path: Path) -> None:
    manifest = PlatformManifest.load(write(tmp_path, "secrets_dir: null\n"), environ={})
    assert manifest.secrets_dir is None


def test_retryable_categories_accept_any_case(tmp_path: Path) -> None:
    text = "plugins: {ingestion: {retry: {retryable_categories: [transient, Partial]}}}\n"
    manifest = PlatformManifest.load(write(tmp_path, text), environ={})
    assert manifest.plugins.ingestion.retry.retryable_categories == (
        ErrorCategory.TRANSIENT,
        ErrorCategory.PARTIAL,
    )


@pytest.mark.parametrize(
    ("value", "field", "message"),
    [
        ("[TRANSIENT, configuration]", "[1]", "CONFIGURATION failures are never retried"),
        ("[TRANSIENT, flaky]", "[1]", "'flaky' is not an error category"),
        ("[5]", "[0]", "a number is not an error category"),
    ],
)
def test_bad_retryable_category_never_offers_configuration(
    tmp_path: Path, value: str, field: str, message: str
) -> None:
    err = load_error(
        tmp_path, f"plugins: {{ingestion: {{retry: {{retryable_categories: {value}}}}}}}\n"
    )
    assert [(p.field, p.message) for p in err.problems] == [
        (
            f"plugins.ingestion.retry.retryable_categories{field}",
            f"{message}; use TRANSIENT, PERMANENT or PARTIAL",
        )
    ]


def test_retryable_categories_must_be_a_list(tmp_path: Path) -> None:
    err = load_error(tmp_path, "plugins: {ingestion: {retry: {retryable_categories: TRANSIENT}}}\n")
    assert err.field == "plugins.ingestion.retry.retryable_categories"
    assert "must be a list" in err.message and "CONFIGURATION" not in err.message


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        (
            "plugins: {ingestion: {retry: {max_attempts: true}}}",
            "plugins.ingestion.retry.max_attempts",
            "must be a whole number (got boolean)",
        ),
        (
            "plugins: {ingestion: {retry: {initial_delay_seconds: false}}}",
            "plugins.ingestion.retry.initial_delay_seconds",
            "must be a number (got boolean)",
        ),
        (
            "plugins: {ingestion: {retry: {max_attempts: 2.5}}}",
            "plugins.ingestion.retry.max_attempts",
            "must be a whole number",
        ),
        (
            'storage: {type: s3, endpoint: "http://127.0.0.1:9000", path_style_access: "off"}',
            "storage.path_style_access",
            "must be true or false (got a string other than true/false)",
        ),
        (
            "storage: {type: s3, path_style_access: 1}",
            "storage.path_style_access",
            "must be true or false (got number)",
        ),
        (
            "observability: {lineage: {enabled: 0}}",
            "observability.lineage.enabled",
            "must be true or false (got number)",
        ),
    ],
)
def test_bools_and_numbers_are_strict(tmp_path: Path, text: str, field: str, message: str) -> None:
    err = load_error(tmp_path, text + "\n", env={})
    assert [(p.field, p.message) for p in err.problems] == [(field, message)]


def test_interpolated_bools_and_numbers_still_work(tmp_path: Path) -> None:
    text = """
    plugins: {ingestion: {retry: {max_attempts: "${N}", initial_delay_seconds: "${D}"}}}
    storage:
      {type: s3, path: "s3://l/b", endpoint: "http://127.0.0.1:9000", path_style_access: "${PSA}"}
    observability: {lineage: {enabled: "${OL}"}}
    """
    env = {"N": "5", "D": "0.5", "PSA": "False", "OL": "true"}
    manifest = PlatformManifest.load(write(tmp_path, text), environ=env)
    assert manifest.plugins.ingestion.retry.max_attempts == 5
    assert manifest.plugins.ingestion.retry.initial_delay_seconds == 0.5
    assert manifest.storage is not None and manifest.storage.path_style_access is False
    assert manifest.observability.lineage.enabled is True
