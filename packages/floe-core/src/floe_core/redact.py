"""Redaction: the one place that decides what a secret looks like and how it is masked.

Four rules, used by the logs, the catalog models, the CLI and every plugin::

    rule                         example in              masked as
    secret-looking name          {"password": "pw"}      {"password": "**********"}
    URL userinfo                 pg://app:p@ss@host/db   pg://**********@host/db
    password= / bearer patterns  password=pw Bearer t    password=********** Bearer **********
                                 {'token': 't'}          {'token': **********}
    given secret values          "... pw ..."            "... ********** ..."

:data:`MASK` is what every secret becomes (the text pydantic's ``SecretStr`` shows).
:func:`is_secret_name` is the one list of secret-looking names. :func:`redact_text` applies the
URL and pattern rules to free text (a dependency's message), :func:`mask_values` replaces given
values, :func:`redact_value` walks mappings and lists. :class:`RedactingFilter` masks stdlib log
records.

Values resolved while loading config (``secret_refs``, and ``${VAR}`` values that land in a
secret-looking field) are :func:`remember`-ed into every active :class:`SecretMasker`; the CLI
activates one for each command and masks those values in everything it prints.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pydantic import SecretBytes, SecretStr

__all__ = [
    "MASK",
    "RedactingFilter",
    "SecretMasker",
    "is_secret_name",
    "mask_values",
    "redact_text",
    "redact_value",
    "remember",
    "remembered",
]

MASK = "**********"
"""What every secret value is replaced with (as ``SecretStr`` shows itself)."""

MIN_REMEMBERED_LENGTH = 3
"""Resolved values shorter than this are not masked in all output (``a`` would garble it)."""

_SECRET_NAME = re.compile(
    r"pass(word|wd|phrase)?$|pwd$|(^|[_.-])pw$|token|secret|credential|authorization|^auth$|dsn$|"
    r"(api|access|account|private|secret|master|encryption|signing|client)[_.-]?key",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#]*@")
_PAIRS = re.compile(
    r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|client_secret)"
    r"(\s*=\s*|['\"]\s*:\s*)('[^']*'|\"[^\"]*\"|[^\s&,;'\"}]+)"
)
_BEARER = re.compile(r"\b((?i:bearer)|Basic)\s+[A-Za-z0-9._~+/=-]{6,}")


def is_secret_name(name: Any) -> bool:
    """Return whether a field, key or property name looks like it holds a secret.

    Args:
        name: A name such as ``password``, ``api_key`` or ``s3.secret-access-key``.

    Returns:
        True for password, passwd, passphrase, pwd, token, secret, credential, authorization,
        auth, dsn and api/access/account/private/secret/client... keys (any case); False for a
        non-string.
    """
    return isinstance(name, str) and bool(_SECRET_NAME.search(name))


def mask_values(text: str, values: Iterable[str]) -> str:
    """Replace every occurrence of each given secret value in ``text`` with :data:`MASK`.

    Args:
        text: Any text.
        values: Secret values; empty ones are ignored, longer ones are replaced first.

    Returns:
        The masked text.
    """
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def redact_text(text: str, values: Iterable[str] = ()) -> str:
    """Mask credentials in free text: URL userinfo, ``password=`` pairs, bearer tokens, values.

    A URL's userinfo is everything between ``scheme://`` and the last ``@`` before the host, so
    an unencoded ``@`` in a password does not leak its tail.

    Args:
        text: A message that may quote a DSN, a header or a secret.
        values: Secret values to mask as well (see :func:`mask_values`).

    Returns:
        The text with each secret replaced by :data:`MASK`.
    """
    text = mask_values(text, values)
    text = _URL_USERINFO.sub(rf"\g<scheme>{MASK}@", text)
    text = _PAIRS.sub(rf"\1\2{MASK}", text)
    return _BEARER.sub(rf"\1 {MASK}", text)


def redact_value(value: Any, values: Iterable[str] = ()) -> Any:
    """Mask secrets in a value: ``SecretStr``, secret-named keys, and text (:func:`redact_text`).

    Args:
        value: A string, mapping, list/tuple or anything else (returned as is).
        values: Secret values to mask in every string.

    Returns:
        A masked copy.
    """
    found = list(values)
    if isinstance(value, SecretStr | SecretBytes):
        return MASK
    if isinstance(value, str):
        return redact_text(value, found)
    if isinstance(value, Mapping):
        return {k: MASK if is_secret_name(k) else redact_value(v, found) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v, found) for v in value)
    return value


class SecretMasker:
    """Collects the secret values resolved while it is active, to mask them in output.

    ::

        masker = SecretMasker()
        with masker.active():
            project = FloeProject.load(...)   # remember() adds resolved secrets here
            print(masker.mask(text))
    """

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, value: str) -> None:
        """Mask ``value`` from now on (ignored when shorter than MIN_REMEMBERED_LENGTH)."""
        if len(value) >= MIN_REMEMBERED_LENGTH:
            self._values.add(value)

    @property
    def values(self) -> frozenset[str]:
        """The values collected so far."""
        return frozenset(self._values)

    def mask(self, text: str) -> str:
        """Return ``text`` with every collected value replaced by :data:`MASK`."""
        return mask_values(text, self._values) if self._values else text

    @contextmanager
    def active(self) -> Iterator[SecretMasker]:
        """Collect :func:`remember`-ed values (and mask them in logs) inside the block."""
        _ACTIVE.append(self)
        try:
            yield self
        finally:
            _ACTIVE.remove(self)


_ACTIVE: list[SecretMasker] = []


def remember(value: str | SecretStr) -> None:
    """Record a resolved secret value in every active :class:`SecretMasker`.

    Args:
        value: The plain value (or a ``SecretStr``).
    """
    plain = value.get_secret_value() if isinstance(value, SecretStr) else value
    for masker in _ACTIVE:
        masker.add(plain)


def remembered() -> frozenset[str]:
    """Return the values of every active :class:`SecretMasker` (empty when none is active)."""
    return frozenset(v for masker in _ACTIVE for v in masker.values)


class RedactingFilter(logging.Filter):
    """A ``logging.Filter`` that masks a record's message (:func:`redact_text`).

    Args:
        values: Secret values to mask besides the remembered ones; more can be added to
            :attr:`values` later.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        super().__init__()
        self.values: set[str] = {v for v in values if v}

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record in place; never drops it.

        Args:
            record: The log record.

        Returns:
            True.
        """
        try:
            message = record.getMessage()
        except Exception:  # a record whose args do not format: leave it to the handler
            return True
        masked = redact_text(message, self.values | remembered())
        if masked != message:
            record.msg, record.args = masked, None
        return True
