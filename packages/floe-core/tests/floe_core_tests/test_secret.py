from pathlib import Path

import pytest
from pydantic import ValidationError

from floe_core.errors import ErrorCategory, ErrorCode, PipelineConfigurationError
from floe_core.secret import SecretRef


def test_short_forms() -> None:
    assert SecretRef.model_validate("env:PG_PASSWORD") == SecretRef(env="PG_PASSWORD")
    assert SecretRef.model_validate("file:pg-password") == SecretRef(file="pg-password")


@pytest.mark.parametrize("bad", ["PG_PASSWORD", "vault:x", "env:", {"env": "A", "file": "b"}, {}])
def test_malformed_refs_say_what_is_valid(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        SecretRef.model_validate(bad)
    assert "env" in str(info.value)


def test_env_resolution() -> None:
    value = SecretRef(env="TOKEN").resolve(environ={"TOKEN": "abc"})
    assert value.get_secret_value() == "abc"
    assert "abc" not in repr(value)


def test_missing_env_is_a_configuration_error_without_value() -> None:
    with pytest.raises(PipelineConfigurationError) as info:
        SecretRef(env="NOPE").resolve(environ={})
    assert info.value.code is ErrorCode.SECRET_NOT_FOUND
    assert info.value.category is ErrorCategory.CONFIGURATION
    assert "export NOPE" in info.value.message


def test_file_resolution_strips_trailing_newline(tmp_path: Path) -> None:
    (tmp_path / "pg-password").write_text("hunter2\n", encoding="utf-8")
    value = SecretRef(file="pg-password").resolve(secrets_dir=tmp_path)
    assert value.get_secret_value() == "hunter2"


def test_file_needs_a_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOE_SECRETS_DIR", raising=False)
    with pytest.raises(PipelineConfigurationError, match="FLOE_SECRETS_DIR"):
        SecretRef(file="x").resolve()


def test_secrets_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tok").write_text("v", encoding="utf-8")
    monkeypatch.setenv("FLOE_SECRETS_DIR", str(tmp_path))
    assert SecretRef(file="tok").resolve().get_secret_value() == "v"


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(PipelineConfigurationError, match="no file"):
        SecretRef(file="absent").resolve(secrets_dir=tmp_path)


@pytest.mark.parametrize("value", ["hunter2-canary", "pw:canary", "http://u:canary@h"])
def test_malformed_short_form_never_echoes_the_value(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        SecretRef.model_validate(value)
    [error] = info.value.errors()
    assert "canary" not in error["msg"]
    assert "'env:NAME'" in error["msg"] and "'file:NAME'" in error["msg"]


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/../../x", "C:\\x"])
def test_file_ref_cannot_leave_the_secrets_dir(name: str) -> None:
    with pytest.raises(ValidationError, match="inside the secrets directory"):
        SecretRef(file=name)
