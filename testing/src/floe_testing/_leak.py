"""The contract rule about secrets: ``secrets.never-leak``.

The rule drives the plugin through every outcome it has (a load, a failed load, a rejected
config, a rejected source type, a health check) while recording everything that can carry text
out of it (results, exceptions, log records, stdout/stderr, structlog output, spans and
warnings), then looks for the value of every secret the configs carry.
"""

from __future__ import annotations

import io
import logging
import warnings
from functools import partial
from typing import Any

import pytest

from floe_core import IngestionConfig, IngestionPlugin, IngestionResult
from floe_testing._check import (
    MIN_SECRET_LENGTH,
    TIMEOUTS,
    UNKNOWN_SOURCE_TYPE,
    broken,
    guarded,
    span_text,
    spans_into,
    structlog_into,
    warnings_into,
)

_RULE = "secrets.never-leak"


def _error_text(exc: BaseException) -> str:
    return f"{exc} {exc!r} {getattr(exc, 'details', None)!r}"


def _leak_candidates(
    plugin: IngestionPlugin, configs: dict[str, IngestionConfig]
) -> dict[str, str]:
    """Run the plugin through every outcome; return the text each one let out."""
    texts: dict[str, str] = {}
    for role in ("valid_config", "failing_config"):
        config = configs[role]
        try:
            pipeline = guarded(
                _RULE, f"create_pipeline({role})", partial(plugin.create_pipeline, config)
            )
            result = guarded(
                _RULE,
                f"run(create_pipeline({role}))",
                partial(plugin.run, pipeline),
                timeout=TIMEOUTS.get().run,
            )
        except Exception as exc:  # other rules report the raise; here only leaks count
            texts[f"{role} error"] = _error_text(exc)
        else:
            dumped = result.model_dump_json() if isinstance(result, IngestionResult) else ""
            texts[f"run({role}) result"] = dumped + repr(result)
    rejected = {"invalid_config": configs["invalid_config"]}
    for role, config in configs.items():
        if config.secrets:  # config.source-type checks the rejection; here only its text counts
            unknown = config.model_copy(update={"source_type": UNKNOWN_SOURCE_TYPE})
            rejected[f"{role} with source_type={UNKNOWN_SOURCE_TYPE!r}"] = unknown
    for what, config in rejected.items():
        try:
            guarded(_RULE, f"create_pipeline({what})", partial(plugin.create_pipeline, config))
        except Exception as exc:
            texts[f"create_pipeline({what}) error"] = _error_text(exc)
    try:
        texts["health_check()"] = repr(guarded(_RULE, "health_check()", plugin.health_check))
    except Exception as exc:  # health.never-raises reports this; here only leaks count
        texts["health_check() error"] = f"{exc} {exc!r}"
    return texts


def _warning_text(found: list[warnings.WarningMessage]) -> str:
    return "\n".join(f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in found)


class LeakRules:
    """The secrets rule; mixed into IngestionPluginContract."""

    def test_secrets_never_leak(
        self,
        started_plugin: IngestionPlugin,
        valid_config: IngestionConfig,
        invalid_config: IngestionConfig,
        failing_config: IngestionConfig,
        caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """``secrets.never-leak``: no secret in results, errors, logs, output, spans, warnings."""
        configs = {
            "valid_config": valid_config,
            "invalid_config": invalid_config,
            "failing_config": failing_config,
        }
        secrets = {
            f"{role}.secrets[{path!r}]": value.get_secret_value()
            for role, config in configs.items()
            for path, value in config.secrets.items()
            if len(value.get_secret_value()) >= MIN_SECRET_LENGTH
        }
        if not secrets:
            broken(
                _RULE,
                "none of valid_config, invalid_config and failing_config carries a secret of "
                f"{MIN_SECRET_LENGTH}+ characters, so leaks cannot be checked",
                "give failing_config (ideally) a distinctive secret, e.g. "
                "secrets={'credentials.password': SecretStr('s3cret-canary-42')}, at a path "
                "the plugin really uses",
            )
        caplog.set_level(logging.DEBUG)
        structlog_output = io.StringIO()
        spans: list[Any] = []
        found: list[warnings.WarningMessage] = []
        with structlog_into(structlog_output), spans_into(spans), warnings_into(found):
            texts = _leak_candidates(started_plugin, configs)
        captured = capsys.readouterr()
        texts["log records"] = caplog.text + repr([r.__dict__ for r in caplog.records])
        texts["stdout/stderr"] = captured.out + captured.err
        texts["structlog output"] = structlog_output.getvalue()
        texts["spans"] = span_text(spans)
        texts["warnings"] = _warning_text(found)
        for where, text in texts.items():
            leaked = [name for name, value in secrets.items() if value in text]
            if leaked:
                broken(
                    _RULE,
                    f"the value of {', '.join(leaked)} appears in {where}",
                    "never put source_config_with_secrets() or a credential-bearing DSN into a "
                    "message, log field, span attribute or event, warning, or result; redact "
                    "secret values from dependency errors",
                )
