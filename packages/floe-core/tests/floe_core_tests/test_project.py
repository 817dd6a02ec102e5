from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from floe_core import ErrorCategory, ErrorCode, SecretRef, WriteMode
from floe_core._loader import ConfigFileError
from floe_core.project import FloeProject

GOOD = """
ingestion:
  sources:
    - name: orders
      type: sql_database
      config:
        credentials: {host: 127.0.0.1, username: app}
        table_names: [orders]
        csv: ${FLOE_PROJECT_DIR}/data/orders.csv
      destination: {table: bronze.orders, write_disposition: merge, primary_key: [id]}
      incremental: {cursor_field: updated_at, initial_value: null}
      schema_contract: freeze
      secret_refs: {credentials.password: env:PG_PASSWORD}
    - name: events
      type: rest_api
      config: {base_url: "${API_URL:-http://127.0.0.1:8080}", note: "costs $$5"}
      destination: {table: bronze.events, primary_key: id}
"""


def write(tmp_path: Path, text: str, name: str = "floe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> ConfigFileError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigFileError) as info:
        FloeProject.load(path, environ=env or {})
    err = info.value
    assert err.category is ErrorCategory.CONFIGURATION
    assert not err.retryable
    assert str(path) in err.message
    return err


def test_good_project_loads_and_interpolates(tmp_path: Path) -> None:
    project = FloeProject.load(write(tmp_path, GOOD), environ={})
    orders, events = project.sources
    assert orders.config["csv"] == f"{tmp_path.absolute()}/data/orders.csv"
    assert events.config["base_url"] == "http://127.0.0.1:8080"
    assert events.config["note"] == "costs $5"
    assert events.destination.primary_key == ("id",)
    assert project.directory == tmp_path.absolute()


def test_env_overrides_default(tmp_path: Path) -> None:
    project = FloeProject.load(write(tmp_path, GOOD), environ={"API_URL": "http://127.0.0.1:1"})
    assert project.sources[1].config["base_url"] == "http://127.0.0.1:1"


def test_to_ingestion_configs_resolves_secrets(tmp_path: Path) -> None:
    project = FloeProject.load(write(tmp_path, GOOD), environ={})
    orders, events = project.to_ingestion_configs(environ={"PG_PASSWORD": "s3cret"})
    assert orders.name == "orders" and orders.source_type == "sql_database"
    assert orders.destination_table == "bronze.orders"
    assert orders.write_mode is WriteMode.MERGE and orders.primary_key == ("id",)
    assert orders.schema_contract == "freeze"
    assert orders.incremental is not None and orders.incremental.cursor_field == "updated_at"
    assert orders.secret_refs == {"credentials.password": SecretRef(env="PG_PASSWORD")}
    assert orders.source_config_with_secrets()["credentials"] == {
        "host": "127.0.0.1",
        "username": "app",
        "password": "s3cret",
    }
    assert "s3cret" not in repr(orders) and "s3cret" not in orders.model_dump_json()
    assert events.write_mode is WriteMode.APPEND


def test_file_secret_and_only(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "pg").write_text("from-file\n")
    text = GOOD.replace("env:PG_PASSWORD", "file:pg")
    project = FloeProject.load(write(tmp_path, text), environ={})
    [orders] = project.to_ingestion_configs(secrets_dir=secrets, only=["orders"])
    assert orders.secrets["credentials.password"].get_secret_value() == "from-file"


def test_only_unknown_source_suggests(tmp_path: Path) -> None:
    project = FloeProject.load(write(tmp_path, GOOD), environ={})
    with pytest.raises(Exception, match="did you mean 'orders'") as info:
        project.to_ingestion_configs(only=["ordrs"])
    assert getattr(info.value, "code", None) is ErrorCode.INVALID_CONFIG
    assert getattr(info.value, "message", None) == (
        f"no source named 'ordrs' in {project.file}; did you mean 'orders'? Sources: orders, events"
    )


def test_only_unknown_source_without_a_close_match(tmp_path: Path) -> None:
    project = FloeProject.load(write(tmp_path, GOOD), environ={})
    with pytest.raises(Exception) as info:
        project.to_ingestion_configs(only=["NOPE"])
    assert getattr(info.value, "message", None) == (
        f"no source named 'NOPE' in {project.file}. Sources: orders, events"
    )


def test_missing_secret_names_field(tmp_path: Path) -> None:
    project = FloeProject.load(write(tmp_path, GOOD), environ={})
    with pytest.raises(ConfigFileError) as info:
        project.to_ingestion_configs(environ={})
    err = info.value
    assert err.code is ErrorCode.SECRET_NOT_FOUND
    assert err.field == "ingestion.sources[0].secret_refs['credentials.password']"
    assert "export PG_PASSWORD" in err.message
    assert str(project.file) in err.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match=r"floe\.yaml not found") as info:
        FloeProject.load(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in info.value.message


def test_not_yaml(tmp_path: Path) -> None:
    err = load_error(tmp_path, "ingestion:\n  sources: [\n  - x: : y\n")
    assert "not valid YAML" in err.message and "line " in err.message


def test_yaml_not_a_mapping(tmp_path: Path) -> None:
    err = load_error(tmp_path, "- a\n- b\n")
    assert "must be a YAML mapping" in err.message and "not a list" in err.message


def test_empty_file(tmp_path: Path) -> None:
    err = load_error(tmp_path, "# nothing here\n")
    assert "is empty" in err.message


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    err = load_error(tmp_path, "ingestion: {}\ningestion: {}\n")
    assert "duplicate key 'ingestion'" in err.message and "line 2" in err.message


def test_unknown_key_suggests(tmp_path: Path) -> None:
    err = load_error(tmp_path, GOOD.replace("schema_contract: freeze", "schema_contrac: freeze"))
    assert err.field == "ingestion.sources[0].schema_contrac"
    assert "did you mean 'schema_contract'?" in err.message
    assert "valid keys: config, description, destination," in err.message


def test_wrong_type(tmp_path: Path) -> None:
    text = """
    ingestion:
      sources:
        - {name: a, type: memory, config: [1], destination: {table: b.c}}
    """
    err = load_error(tmp_path, text)
    assert err.field == "ingestion.sources[0].config"
    assert "must be a mapping (key: value) (got list)" in err.message


def test_wrong_type_scalar(tmp_path: Path) -> None:
    err = load_error(tmp_path, GOOD.replace("{table: bronze.events", "{table: [bronze, events]"))
    assert err.field == "ingestion.sources[1].destination.table"
    assert err.message.endswith("table: must be a string (got list)")


def test_bad_enum_lists_values(tmp_path: Path) -> None:
    text = GOOD.replace("write_disposition: merge", "write_disposition: upsert")
    err = load_error(tmp_path, text)
    assert err.field == "ingestion.sources[0].destination.write_disposition"
    assert "'append', 'replace' or 'merge'" in err.message


def test_bad_schema_contract(tmp_path: Path) -> None:
    err = load_error(tmp_path, GOOD.replace("schema_contract: freeze", "schema_contract: frozen"))
    assert err.field == "ingestion.sources[0].schema_contract"
    assert "'evolve', 'freeze', 'discard_value' or 'discard_row'" in err.message


def test_bad_table_name(tmp_path: Path) -> None:
    err = load_error(tmp_path, GOOD.replace("table: bronze.events", "table: events"))
    assert err.field == "ingestion.sources[1].destination.table"
    assert "must be 'namespace.table'" in err.message


def test_merge_without_primary_key_is_judged_with_the_plugin_not_by_the_file(
    tmp_path: Path,
) -> None:
    # whether a source type supplies its key is the plugin's to say (floe_core._location
    # .check_merge_key, run before create_pipeline): the file itself loads
    text = GOOD.replace("primary_key: id}", "write_disposition: merge}")
    project = FloeProject.load(write(tmp_path, text), environ={})
    assert project.sources[1].destination.primary_key == ()


def test_duplicate_source_names(tmp_path: Path) -> None:
    err = load_error(tmp_path, GOOD.replace("name: events", "name: orders"))
    assert err.field == "ingestion.sources[1].name"
    assert "duplicate source name 'orders': sources[0] already uses it" in err.message


def test_bad_source_name(tmp_path: Path) -> None:
    err = load_error(tmp_path, GOOD.replace("name: events", "name: 'my events'"))
    assert err.field == "ingestion.sources[1].name"


def test_missing_env_var_names_file_field_and_variable(tmp_path: Path) -> None:
    err = load_error(tmp_path, GOOD.replace("username: app", "username: '${PG_USER}'"))
    assert err.field == "ingestion.sources[0].config.credentials.username"
    assert "environment variable PG_USER is not set" in err.message


def test_malformed_interpolation(tmp_path: Path) -> None:
    err = load_error(tmp_path, GOOD.replace("username: app", "username: '${PG USER}'"))
    assert err.field == "ingestion.sources[0].config.credentials.username"
    assert "malformed '${'" in err.message


SHORT_FORM = (
    "a secret reference is 'env:NAME' (an environment variable) or 'file:NAME' (a file in the "
    "secrets directory), or a mapping {env: NAME} / {file: NAME}"
)


def test_bad_secret_ref_syntax(tmp_path: Path) -> None:
    err = load_error(tmp_path, GOOD.replace("env:PG_PASSWORD", "vault:pg"))
    assert err.problems[0].field == "ingestion.sources[0].secret_refs['credentials.password']"
    assert err.problems[0].message == SHORT_FORM
    assert "vault" not in err.message


def test_secret_written_in_place_of_its_reference_is_never_echoed(tmp_path: Path) -> None:
    """``secret_refs: {credentials.password: "${PGPW}"}`` interpolates the secret itself."""
    text = GOOD.replace("env:PG_PASSWORD", '"${PGPW}"')
    for value in ("hunter2-canary", "env-canary:x", "s3cr3t:canary"):
        err = load_error(tmp_path, text, env={"PGPW": value})
        assert [(p.field, p.message) for p in err.problems] == [
            ("ingestion.sources[0].secret_refs['credentials.password']", SHORT_FORM)
        ]
        assert value not in err.message and value not in str(err.details)
        assert "canary" not in err.message


@pytest.mark.parametrize("ref", ["file:../../etc/passwd", "file:/etc/passwd", "file:a/../../b"])
def test_file_secret_must_stay_inside_the_secrets_dir(tmp_path: Path, ref: str) -> None:
    err = load_error(tmp_path, GOOD.replace("env:PG_PASSWORD", ref))
    assert err.problems[0].field == "ingestion.sources[0].secret_refs['credentials.password']"
    assert err.problems[0].message == (
        "file: names a file inside the secrets directory: a relative path without '..' "
        "parts, e.g. file:pg-password"
    )


def test_file_secret_may_name_a_subfolder_file(tmp_path: Path) -> None:
    (tmp_path / "secrets" / "pg").mkdir(parents=True)
    (tmp_path / "secrets" / "pg" / "..password").write_text("pw\n")
    text = GOOD.replace("env:PG_PASSWORD", "file:pg/..password")
    project = FloeProject.load(write(tmp_path, text), environ={})
    [orders] = project.to_ingestion_configs(secrets_dir=tmp_path / "secrets", only=["orders"])
    assert orders.secrets["credentials.password"].get_secret_value() == "pw"


def test_env_secret_must_name_a_variable(tmp_path: Path) -> None:
    err = load_error(tmp_path, GOOD.replace("env:PG_PASSWORD", "'env:pg password'"))
    assert err.problems[0].message.startswith("env: takes an environment variable name")
    assert "pg password" not in err.message


def test_secret_path_through_a_scalar(tmp_path: Path) -> None:
    err = load_error(tmp_path, GOOD.replace("credentials.password:", "table_names.password:"))
    assert "goes through config field 'table_names'" in err.message


def test_missing_required_fields_and_no_sources(tmp_path: Path) -> None:
    err = load_error(tmp_path, "ingestion:\n  sources:\n    - name: a\n")
    assert "ingestion.sources[0].type: required field is missing" in err.message
    assert "ingestion.sources[0].destination: required field is missing" in err.message
    assert len(err.problems) == 2
    err = load_error(tmp_path, "ingestion:\n  sources: []\n")
    assert err.field == "ingestion.sources"


def test_partition_by_reaches_the_ingestion_config(tmp_path: Path) -> None:
    text = GOOD.replace(
        "{table: bronze.events, primary_key: id}",
        "{table: bronze.events, partition_by: [day(ts), 'bucket(16, id)', region]}",
    )
    project = FloeProject.load(write(tmp_path, text), environ={})
    config = project.sources[1].to_ingestion_config()
    assert config.partition_by == ("day(ts)", "bucket(16, id)", "region")


@pytest.mark.parametrize(
    ("partition_by", "needle"),
    [
        ("[week(ts)]", "unknown partition transform 'week'"),
        ("['bucket(0, id)']", "bucket needs a width of at least 1"),
        ("['bucket(id)']", "is not a partition transform"),
        ("[day(ts), day(ts)]", "listed twice"),
    ],
)
def test_bad_partition_by_names_the_field(tmp_path: Path, partition_by: str, needle: str) -> None:
    text = GOOD.replace(
        "{table: bronze.events, primary_key: id}",
        f"{{table: bronze.events, partition_by: {partition_by}}}",
    )
    err = load_error(tmp_path, text)
    assert err.field == "ingestion.sources[1].destination.partition_by"
    assert needle in err.message
    assert err.category is ErrorCategory.CONFIGURATION


def test_sort_by_is_normalised_and_checked(tmp_path: Path) -> None:
    good = GOOD.replace(
        "{table: bronze.events, primary_key: id}",
        "{table: bronze.events, sort_by: [ts DESC, 'id nulls last']}",
    )
    config = FloeProject.load(write(tmp_path, good), environ={}).sources[1].to_ingestion_config()
    assert config.sort_by == ("ts desc nulls last", "id asc nulls last")
    bad = GOOD.replace(
        "{table: bronze.events, primary_key: id}", "{table: bronze.events, sort_by: [ts up]}"
    )
    err = load_error(tmp_path, bad)
    assert err.field == "ingestion.sources[1].destination.sort_by"
    assert "is not a sort field" in err.message


def test_merge_strategy_defaults_to_copy_on_write_and_reaches_the_ingestion_config(
    tmp_path: Path,
) -> None:
    from floe_core import MergeStrategy

    project = FloeProject.load(write(tmp_path, GOOD), environ={})
    assert project.sources[0].to_ingestion_config().merge_strategy is MergeStrategy.COPY_ON_WRITE
    text = GOOD.replace(
        "write_disposition: merge, primary_key: [id]}",
        "write_disposition: merge, primary_key: [id], merge_strategy: merge_on_read}",
    )
    config = FloeProject.load(write(tmp_path, text), environ={}).sources[0].to_ingestion_config()
    assert config.merge_strategy is MergeStrategy.MERGE_ON_READ


@pytest.mark.parametrize(
    ("destination", "needle"),
    [
        (
            "{table: bronze.events, merge_strategy: merge_on_read}",
            "applies to write_mode 'merge' only, not 'append'",
        ),
        (
            "{table: bronze.events, write_disposition: replace, merge_strategy: merge_on_read}",
            "not 'replace'",
        ),
        (
            "{table: bronze.events, write_disposition: merge, merge_strategy: on_read}",
            "copy_on_write",
        ),
    ],
)
def test_bad_merge_strategy_names_the_field(tmp_path: Path, destination: str, needle: str) -> None:
    text = GOOD.replace("{table: bronze.events, primary_key: id}", destination)
    err = load_error(tmp_path, text)
    assert err.field == "ingestion.sources[1].destination.merge_strategy"
    assert needle in err.message


def test_ingestion_config_refuses_merge_on_read_without_merge() -> None:
    from pydantic import ValidationError

    from floe_core import IngestionConfig, MergeStrategy

    with pytest.raises(ValidationError, match="merge_strategy 'merge_on_read' applies to"):
        IngestionConfig(
            name="x",
            source_type="x",
            destination_table="a.b",
            merge_strategy=MergeStrategy.MERGE_ON_READ,
        )
