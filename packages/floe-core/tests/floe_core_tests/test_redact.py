from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from floe_core.redact import (
    MASK,
    RedactingFilter,
    SecretMasker,
    is_secret_name,
    mask_values,
    redact_text,
    redact_value,
    remember,
    remembered,
)


def test_url_userinfo_with_an_unencoded_at_in_the_password() -> None:
    text = "cannot connect to postgresql://app:Zq9can@aryPW5521@host/db: refused"
    out = redact_text(text)
    assert out == f"cannot connect to postgresql://{MASK}@host/db: refused"
    assert "aryPW5521" not in out and "Zq9can" not in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mysql://root:pw@127.0.0.1:3306/x", f"mysql://{MASK}@127.0.0.1:3306/x"),
        ("https://host/path?q=1", "https://host/path?q=1"),
        ("password=hunter2 host=h", f"password={MASK} host=h"),
        ("pwd='a b c';x", f"pwd={MASK};x"),
        ("Authorization: Bearer abc.def-ghi", f"Authorization: Bearer {MASK}"),
        ("Basic dXNlcjpwYXNz", f"Basic {MASK}"),
        ("basic auth is off", "basic auth is off"),
        ("{'password': 'pw', 'user': 'u'}", f"{{'password': {MASK}, 'user': 'u'}}"),
        ('{"api_key": "k1"}', f'{{"api_key": {MASK}}}'),
        # a field path in a config message is not a key=value pair
        (
            "config.password: required field is missing",
            "config.password: required field is missing",
        ),
    ],
)
def test_redact_text_rules(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_mask_values_replaces_longest_first() -> None:
    assert mask_values("abcdef abc", ["abc", "abcdef", ""]) == f"{MASK} {MASK}"


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("PG_PASSWORD", True),
        ("s3.secret-access-key", True),
        ("s3.access-key-id", True),
        ("adls.account-key", True),
        ("api_key", True),
        ("client_secret", True),
        ("Authorization", True),
        ("dsn", True),
        ("PG_PW", True),
        ("primary_key", False),
        ("host", False),
        ("s3.endpoint", False),
        (3, False),
    ],
)
def test_is_secret_name(name: object, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_redact_value_walks_mappings_lists_and_secretstr() -> None:
    value = {"user": "app", "token": "t", "nested": [SecretStr("x"), "pg://a:b@h/d"]}
    assert redact_value(value) == {
        "user": "app",
        "token": MASK,
        "nested": [MASK, f"pg://{MASK}@h/d"],
    }


def test_remembered_values_only_while_a_masker_is_active() -> None:
    remember("outside-secret")
    masker = SecretMasker()
    with masker.active():
        remember("inside-secret")
        remember(SecretStr("another-one"))
        remember("ab")  # too short to mask everywhere
        assert remembered() == {"inside-secret", "another-one"}
        assert masker.mask("x inside-secret y") == f"x {MASK} y"
    assert remembered() == frozenset()


def test_redacting_filter_masks_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("floe.test.redact")
    flt = RedactingFilter(["given-value"])
    logger.addFilter(flt)
    try:
        with caplog.at_level(logging.INFO, logger="floe.test.redact"):
            logger.info("dsn %s and %s", "pg://u:p@h/d", "given-value")
    finally:
        logger.removeFilter(flt)
    assert caplog.records[0].getMessage() == f"dsn pg://{MASK}@h/d and {MASK}"
