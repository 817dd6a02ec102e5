from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog
from pydantic import SecretStr

from floe_core.log import REDACTED, configure_logging, get_logger, redact_secrets


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    yield out
    structlog.reset_defaults()


def test_json_lines_with_event_and_fields(stream: io.StringIO) -> None:
    log = get_logger("floe.test", run="r1")  # before configuring, as module loggers are
    configure_logging("json", "INFO", stream=stream)
    log.info("load_committed", table="bronze.orders", rows=12)
    log.debug("hidden")
    [line] = stream.getvalue().splitlines()
    event = json.loads(line)
    assert event["event"] == "load_committed"
    assert event["table"] == "bronze.orders" and event["rows"] == 12
    assert event["level"] == "info" and event["logger_name"] == "floe.test" and event["run"] == "r1"
    assert event["timestamp"].endswith("Z")


def test_console_format_and_level(stream: io.StringIO) -> None:
    configure_logging("console", "debug", stream=stream)
    get_logger().debug("visible_now", rows=3)
    text = stream.getvalue()
    assert "visible_now" in text and "rows=3" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_secrets_are_redacted_in_every_shape(stream: io.StringIO) -> None:
    configure_logging("json", stream=stream)
    get_logger().warning(
        "connect",
        password="hunter2",
        api_token="tok-1",
        value=SecretStr("s3cret"),
        dsn_like="postgresql://app:pa55@127.0.0.1:5432/db",
        config={"credentials": {"user": "app"}, "nested": [{"client_secret": "cs"}], "n": 1},
        host="127.0.0.1",
    )
    text = stream.getvalue()
    for secret in ("hunter2", "tok-1", "s3cret", "pa55", 'cs"', 'app"}'):
        assert secret not in text
    event = json.loads(text)
    assert event["password"] == REDACTED and event["api_token"] == REDACTED
    assert event["value"] == REDACTED
    assert event["dsn_like"] == f"postgresql://{REDACTED}@127.0.0.1:5432/db"
    assert event["config"] == {
        "credentials": REDACTED,
        "nested": [{"client_secret": REDACTED}],
        "n": 1,
    }
    assert event["host"] == "127.0.0.1"


def test_processor_keeps_ordinary_fields() -> None:
    event = {"event": "x", "rows": 3, "tokens_seen": 2, "table": "a.b", "url": "http://h/p"}
    out = redact_secrets(None, "info", dict(event))
    assert out["rows"] == 3 and out["table"] == "a.b" and out["url"] == "http://h/p"
    assert out["tokens_seen"] == REDACTED  # errs on the side of hiding


def test_stdlib_records_are_rendered_and_redacted(stream: io.StringIO) -> None:
    import logging

    configure_logging("json", "INFO", stream=stream, capture_stdlib=True)
    logging.getLogger("thirdparty.fake").warning(
        "cannot reach postgresql://app:pa55@127.0.0.1/db, retrying"
    )
    logging.getLogger("thirdparty.fake").info("below the root logger's WARNING level")
    [line] = stream.getvalue().splitlines()
    event = json.loads(line)
    assert event["logger"] == "thirdparty.fake" and event["level"] == "warning"
    assert event["event"] == f"cannot reach postgresql://{REDACTED}@127.0.0.1/db, retrying"
    configure_logging("json", "INFO", stream=stream)  # reconfiguring removes the handler
    logging.getLogger("thirdparty.fake").warning("not captured")
    assert "not captured" not in stream.getvalue()
