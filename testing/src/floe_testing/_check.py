"""How the contract checks a rule: the failure message, guarded calls, capture helpers.

Every call the suite makes into a plugin goes through :func:`guarded` (or :func:`call`, which
also turns an exception into a broken rule): it runs in a daemon thread and the test waits at
most the deadline of :data:`TIMEOUTS` (``IngestionPluginContract.call_timeout``, or
``run_timeout`` for ``run``), so a hanging plugin fails its test with the rule id instead of
hanging the suite. The hung thread is left behind; it dies with the process.
"""

from __future__ import annotations

import contextvars
import io
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar, cast

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


@dataclass(frozen=True)
class Timeouts:
    """How long the suite waits for one plugin call, in seconds.

    Attributes:
        call: Any call but ``run`` (``startup``, ``health_check``, ``create_pipeline``, ...).
        run: ``run``.
    """

    call: float = 30.0
    run: float = 120.0


TIMEOUTS: contextvars.ContextVar[Timeouts] = contextvars.ContextVar(
    "floe_contract_timeouts",
    default=Timeouts(),  # noqa: B039 - frozen, so not mutable
)
"""The deadlines of the running test; the contract's autouse fixture sets its class's."""


def guarded(rule: str, what: str, fn: Callable[[], _T], *, timeout: float | None = None) -> _T:
    """Call ``fn`` under the watchdog; its exception propagates, a hang breaks ``rule``.

    Args:
        rule: The rule the calling test checks.
        what: The call, as the failure message shows it (``"run(create_pipeline(...))"``).
        fn: The call.
        timeout: Seconds to wait; the running test's ``Timeouts.call`` when None.

    Returns:
        What ``fn`` returned.
    """
    seconds = TIMEOUTS.get().call if timeout is None else timeout
    finished, value, error = within(seconds, fn)
    if not finished:
        broken(
            rule,
            f"{what} did not return within {seconds:g} s",
            "every plugin call must return: give each network call (connect and read) a "
            "timeout and never wait on a lock, queue or event without one; if the test "
            "environment is just slow, raise call_timeout / run_timeout on the test class",
        )
    if error is not None:
        raise error
    return cast(_T, value)  # finished without an error: fn returned it


def call(
    rule: str, what: str, fn: Callable[[], _T], fix: str, *, timeout: float | None = None
) -> _T:
    """Call ``fn`` under the watchdog; an exception fails ``rule`` with its type and message."""
    try:
        return guarded(rule, what, fn, timeout=timeout)
    except Exception as exc:
        broken(rule, f"{what} raised {raised(exc)}", fix)


def within(seconds: float, fn: Callable[[], _T]) -> tuple[bool, _T | None, BaseException | None]:
    """Run ``fn`` in a daemon thread (in a copy of the caller's context); wait ``seconds``.

    Returns:
        (finished, value, exception); a hung call is left running in its daemon thread.
    """
    outcome: dict[str, Any] = {}
    context = contextvars.copy_context()

    def target() -> None:
        try:
            outcome["value"] = context.run(fn)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="floe-contract-call", daemon=True)
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
def warnings_into(found: list[warnings.WarningMessage]) -> Iterator[None]:
    """Record into ``found`` every warning issued meanwhile, in any thread, instead of raising.

    Inside the block every warning is recorded and shown nowhere, whatever the filters
    (pytest's ``filterwarnings = error`` included), so the leak rule can read its text; outside
    it, the filters apply as configured (``warnings.catch_warnings`` is process-wide).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            found.extend(caught)


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
