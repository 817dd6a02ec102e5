"""How the contract checks a rule: the failure message, guarded calls, capture helpers."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import pytest
from pydantic import SecretBytes, SecretStr

_T = TypeVar("_T")

# https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
API_VERSION = re.compile(r"^(\d+)\.(\d+)$")
NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
MIN_SECRET_LENGTH = 8
UNKNOWN_SOURCE_TYPE = "floe-contract-no-such-source"
CANARY = "floe-contract-canary-5c1e7a"


def broken(rule: str, problem: str, fix: str) -> NoReturn:
    """Fail the current test, naming the rule, what happened and how to fix it."""
    message = f"contract rule {rule!r} broken: {problem}\nFix: {fix}"
    # from None: the report is the message alone, not the plugin exception it was raised during.
    raise pytest.fail.Exception(message, pytrace=False) from None


def raised(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"


def call(rule: str, what: str, fn: Callable[[], _T], fix: str) -> _T:
    """Call ``fn``; an exception fails ``rule`` with the exception's type and message."""
    try:
        return fn()
    except Exception as exc:
        broken(rule, f"{what} raised {raised(exc)}", fix)


def within(seconds: float, fn: Callable[[], _T]) -> tuple[bool, _T | None, BaseException | None]:
    """Run ``fn`` in a daemon thread and wait at most ``seconds``.

    Returns:
        (finished, value, exception); a hung call is left running in its daemon thread.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="floe-contract-health-check", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        return False, None, None
    return True, outcome.get("value"), outcome.get("error")


def secret_paths(value: Any, path: str = "") -> Iterator[str]:
    """Yield the paths of every SecretStr/SecretBytes inside a JSON-like value."""
    if isinstance(value, SecretStr | SecretBytes):
        yield path or "(root)"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from secret_paths(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from secret_paths(item, f"{path}[{index}]")


@contextmanager
def spans_into(finished: list[Any]) -> Iterator[None]:
    """Collect into ``finished`` the OpenTelemetry spans that end meanwhile.

    For a while ``opentelemetry.trace.get_tracer_provider`` answers with a private SDK provider
    exporting to memory, so every tracer obtained through ``opentelemetry.trace.get_tracer``
    during the block records there: ``floe_core.telemetry.span`` and any plugin code that asks
    for its tracer when it needs one. (A tracer a module fetched at import time, before an
    application set a provider, is a no-op and records nothing anywhere.) The application's
    own provider is left alone.
    """
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    original = trace.get_tracer_provider
    setattr(trace, "get_tracer_provider", lambda: provider)  # noqa: B010 - a module function
    try:
        yield
    finally:
        setattr(trace, "get_tracer_provider", original)  # noqa: B010
        finished.extend(exporter.get_finished_spans())
        provider.shutdown()


def span_text(spans: list[Any]) -> str:
    """Return everything a span exporter would send: names, attributes, events, status."""
    parts: list[str] = []
    for span in spans:
        parts += [span.name, repr(dict(span.attributes or {})), span.status.description or ""]
        for event in span.events:
            parts += [event.name, repr(dict(event.attributes or {}))]
        for link in span.links:
            parts.append(repr(dict(link.attributes or {})))
    return "\n".join(parts)


@contextmanager
def structlog_into(stream: io.StringIO) -> Iterator[None]:
    """Send structlog output to ``stream`` for a while, keeping the configured processors.

    structlog's print logger holds the stream it was configured with (often a ``sys.stderr``
    captured before the test), which capsys cannot see; the processors, redaction included,
    stay as the application configured them.
    """
    try:
        import structlog
    except ImportError:  # pragma: no cover - floe-core depends on structlog
        yield
        return
    was_configured = structlog.is_configured()
    previous = structlog.get_config()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=stream))
    try:
        yield
    finally:
        if was_configured:
            structlog.configure(**previous)
        else:
            structlog.reset_defaults()
