from __future__ import annotations

from typing import Any

import pytest

from floe_core import ErrorCategory, ErrorCode, PipelineConfigurationError
from floe_ingestion_airbyte import AirbyteConfig, AirbyteIngestionPlugin, AuthMode


def rejected(config: dict[str, Any]) -> PipelineConfigurationError:
    with pytest.raises(PipelineConfigurationError) as caught:
        AirbyteIngestionPlugin(config)
    assert caught.value.category is ErrorCategory.CONFIGURATION
    assert caught.value.code is ErrorCode.INVALID_CONFIG
    return caught.value


def test_defaults_target_airbyte_cloud_without_auth() -> None:
    config = AirbyteConfig()
    assert config.base_url == "https://api.airbyte.com/v1"
    assert config.auth_mode is AuthMode.NONE
    assert config.on_running_sync == "attach"
    assert config.cancel_on_timeout is True


@pytest.mark.parametrize(
    ("config", "mode"),
    [
        ({"client_id": "id", "client_secret": "secret"}, AuthMode.CLIENT_CREDENTIALS),
        ({"token": "t0ken"}, AuthMode.BEARER),
        ({"username": "airbyte", "password": "password"}, AuthMode.BASIC),
        (
            {"client_id": "id", "secret_refs": {"client_secret": "env:AIRBYTE_SECRET"}},
            AuthMode.CLIENT_CREDENTIALS,
        ),
    ],
)
def test_one_auth_mode(config: dict[str, Any], mode: AuthMode) -> None:
    assert AirbyteConfig.model_validate(config).auth_mode is mode


def test_half_given_client_credentials_are_rejected_naming_the_missing_field() -> None:
    error = rejected({"client_id": "id"})
    assert "client_credentials auth is half-given" in error.message
    assert "client_secret is missing" in error.message


def test_half_given_basic_auth_is_rejected() -> None:
    error = rejected({"password": "pw-value-1"})
    assert "username is missing" in error.message
    assert "pw-value-1" not in error.message


def test_two_auth_modes_are_rejected() -> None:
    error = rejected({"token": "t", "client_id": "id", "client_secret": "s"})
    assert "not several" in error.message


@pytest.mark.parametrize(
    ("field", "other"),
    [
        ("client_id", {"client_secret": "s3cret-value"}),
        ("client_secret", {"client_id": "id"}),
        ("token", {}),
        ("username", {"password": "pw-value-1"}),
        ("password", {"username": "airbyte"}),
    ],
)
def test_a_credential_both_inline_and_in_secret_refs_is_rejected(
    field: str, other: dict[str, str]
) -> None:
    error = rejected(
        {field: "inline-value-9", **other, "secret_refs": {field: "env:AIRBYTE_CREDENTIAL"}}
    )
    assert f"{field} is given both inline and in secret_refs (env:AIRBYTE_CREDENTIAL)" in (
        error.message
    )
    assert "give only one" in error.message
    assert "inline-value-9" not in error.message


@pytest.mark.parametrize(
    ("field", "other"),
    [
        ("client_id", {"client_secret": "s3cret-value"}),
        ("client_secret", {"client_id": "id"}),
        ("token", {}),
        ("username", {"password": "pw-value-1"}),
        ("password", {"username": "airbyte"}),
    ],
)
@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_credential_is_rejected_naming_the_field(
    field: str, other: dict[str, str], empty: str
) -> None:
    error = rejected({field: empty, **other})
    assert f"{field} is empty" in error.message
    assert f"leave {field} out" in error.message


def test_an_empty_secret_ref_value_is_rejected_when_the_client_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOE_TEST_AIRBYTE_EMPTY", "")
    plugin = AirbyteIngestionPlugin(
        {"client_id": "id", "secret_refs": {"client_secret": "env:FLOE_TEST_AIRBYTE_EMPTY"}}
    )
    with pytest.raises(PipelineConfigurationError) as caught:
        plugin.startup()
    assert caught.value.code is ErrorCode.SECRET_NOT_FOUND
    assert "secret_refs.client_secret (env:FLOE_TEST_AIRBYTE_EMPTY) is empty" in (
        caught.value.message
    )


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("api.airbyte.com/v1", "must start with http"),
        ("https://user:hunter22@airbyte.local/api/public/v1", "must not carry credentials"),
    ],
)
def test_bad_base_urls(base_url: str, expected: str) -> None:
    error = rejected({"base_url": base_url})
    assert expected in error.message
    assert "hunter22" not in error.message


def test_base_url_trailing_slash_is_dropped() -> None:
    config = AirbyteConfig(base_url="http://127.0.0.1:8000/api/public/v1/")
    assert config.base_url == "http://127.0.0.1:8000/api/public/v1"


def test_unknown_fields_are_rejected() -> None:
    assert "poll_intervall" in rejected({"poll_intervall": 3}).message


def test_every_field_is_described() -> None:
    schema = AirbyteConfig.model_json_schema()
    undocumented = [
        name for name, field in schema["properties"].items() if not field.get("description")
    ]
    assert undocumented == []


def test_secrets_are_masked_in_repr() -> None:
    config = AirbyteConfig(client_id="id", client_secret="very-secret-value")
    assert "very-secret-value" not in repr(config)
    assert "very-secret-value" not in config.model_dump_json()
