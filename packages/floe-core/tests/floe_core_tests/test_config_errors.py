from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from floe_core import PipelineConfigurationError
from floe_core.config_errors import format_validation_error, validation_problems
from floe_core_tests._fakes import FakePlugin


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tables: list[str] = []


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str
    port: int = 5432
    inner: _Inner = _Inner()


def _error(data: object) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        _Source.model_validate(data)
    return info.value


def test_unknown_key_gets_did_you_mean_and_the_valid_keys() -> None:
    exc = _error({"host": "h", "inner": {"tabels": ["a"]}})
    assert format_validation_error(exc, _Source, prefix=("config",)) == (
        "config.inner.tabels: unknown key 'tabels'; did you mean 'tables'? (valid keys: tables)"
    )


def test_without_the_model_there_is_no_suggestion_but_the_same_shape() -> None:
    exc = _error({"host": "h", "inner": {"tabels": ["a"]}})
    assert format_validation_error(exc) == "inner.tabels: unknown key 'tabels'"


def test_values_never_appear_and_limit_counts_the_rest() -> None:
    exc = _error({"port": "hunter2-secret", "inner": 3, "extra1": 1})
    text = format_validation_error(exc, _Source, limit=2)
    assert "hunter2" not in text
    problems = validation_problems(exc, _Source)
    assert [p.field for p in problems] == ["host", "port", "inner", "extra1"]
    assert text == ("host: required field is missing; port: must be a whole number; and 2 more")


def test_a_plugins_config_error_reads_the_same() -> None:
    with pytest.raises(PipelineConfigurationError) as info:
        FakePlugin({"greting": "hi"})
    assert info.value.message == (
        "invalid config for plugin 'fake': plugins.ingestion.config.greting: unknown key "
        "'greting'; did you mean 'greeting'? (valid keys: fail_startup, greeting)"
    )
