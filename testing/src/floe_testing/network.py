"""A pytest plugin that fails any test opening a connection outside the loopback interface.

Load it with ``pytest_plugins = ["floe_testing.network"]`` (the repository's root
``conftest.py`` does). Its autouse fixture :func:`network_guard` patches, for each test:

- ``socket.socket.connect`` / ``connect_ex``: an ``AF_INET``/``AF_INET6`` address must be in
  127.0.0.0/8 or ``::1`` (``::ffff:127.x`` too) or be the name ``localhost``; ``AF_UNIX`` and
  other families pass. Anything else raises :class:`NetworkGuardError` *before* connecting:
  no packet leaves.
- ``socket.create_connection``: the same check on the host, before any resolution.
- ``socket.getaddrinfo``: a host name other than ``localhost`` (``*.localhost``) is refused
  before DNS is asked; IP literals and ``None`` (a wildcard bind) resolve nothing and pass.

The guard also records every refusal and fails the test at teardown, so a refusal that the code
under test swallowed (a retry loop, an ``except Exception``) still fails it.

Out of its reach: subprocesses (SeaweedFS, virtualenvs, pip) and C libraries that open their
own sockets (libpq under psycopg2, for one); those must be pointed at 127.0.0.1 by the tests.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

__all__ = ["NetworkGuard", "NetworkGuardError", "is_loopback", "network_guard"]


class NetworkGuardError(RuntimeError):
    """A test tried to reach an address outside the loopback interface."""


def is_loopback(host: object) -> bool:
    """Tell whether ``host`` names the loopback interface, without resolving anything.

    Args:
        host: An IP literal (``127.0.0.1``, ``::1``, ``fe80::1%eth0``), a name or bytes.

    Returns:
        True for 127.0.0.0/8, ``::1``, IPv4-mapped loopback, ``localhost`` and ``*.localhost``.
    """
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").split("%", 1)[0].rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


@dataclass
class NetworkGuard:
    """The refusals of the running test.

    Attributes:
        refused: One message per refused connection or lookup, in order.
    """

    refused: list[str] = field(default_factory=list)

    def refuse(self, what: str) -> NetworkGuardError:
        """Record a refusal and return the error to raise.

        Args:
            what: The call and its target, e.g. ``connect(('10.0.0.1', 80))``.

        Returns:
            The error naming the target and what to do instead.
        """
        message = (
            f"floe network guard: {what} refused: tests may only reach 127.0.0.0/8, ::1 or "
            "'localhost' (start a local server, or use a fake transport)"
        )
        self.refused.append(message)
        return NetworkGuardError(message)


def _host_of(family: int, address: Any) -> object | None:
    """The host of an ``AF_INET``/``AF_INET6`` address, or None for another family."""
    if family not in (socket.AF_INET, socket.AF_INET6):
        return None
    host: object = address[0] if isinstance(address, tuple) and address else address
    return host


def _guard_connect(
    guard: NetworkGuard, original: Callable[..., Any], name: str
) -> Callable[..., Any]:
    def connect(self: socket.socket, address: Any) -> Any:
        host = _host_of(self.family, address)
        if host is not None and not is_loopback(host):
            raise guard.refuse(f"socket.{name}({address!r})")
        return original(self, address)

    return connect


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkGuard]:
    """Refuse, and fail the test for, any connection outside the loopback interface.

    Yields:
        The guard; a test of the guard itself clears ``refused`` after checking it.
    """
    guard = NetworkGuard()
    for name in ("connect", "connect_ex"):
        original = getattr(socket.socket, name)
        monkeypatch.setattr(socket.socket, name, _guard_connect(guard, original, name))

    create_connection = socket.create_connection
    getaddrinfo = socket.getaddrinfo

    def guarded_create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        host = address[0] if isinstance(address, tuple) and address else address
        if not is_loopback(host):
            raise guard.refuse(f"socket.create_connection({address!r})")
        return create_connection(address, *args, **kwargs)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        text = host.decode("ascii", "replace") if isinstance(host, bytes) else host
        if text is not None and text != "" and not _is_ip_literal(text) and not is_loopback(text):
            raise guard.refuse(f"socket.getaddrinfo({host!r}) (no DNS lookup was made)")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded_create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    yield guard
    if guard.refused:
        pytest.fail("\n".join(guard.refused), pytrace=False)
