"""The network guard refuses non-loopback connections before they are made, and fails the test."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from floe_testing.network import NetworkGuard, NetworkGuardError, _guard_connect, is_loopback

OUTSIDE = ("10.255.255.1", 80)  # non-routable: a real connect would hang, not fail fast


@pytest.fixture
def refused(network_guard: NetworkGuard) -> Iterator[list[str]]:
    """The guard's refusals; cleared after the test has checked them, so teardown passes."""
    yield network_guard.refused
    network_guard.refused.clear()


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("db.localhost", True),
        (b"127.0.0.1", True),
        ("10.255.255.1", False),
        ("0.0.0.0", False),
        ("::", False),
        ("example.com", False),
        ("127.0.0.1.nip.io", False),
        (None, False),
    ],
)
def test_is_loopback(host: object, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_connect_outside_loopback_is_refused_before_connecting(refused: list[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        with pytest.raises(NetworkGuardError, match=r"10\.255\.255\.1.*only reach 127\.0\.0\.0/8"):
            sock.connect(OUTSIDE)
        with pytest.raises(NetworkGuardError):
            sock.connect_ex(OUTSIDE)
    assert len(refused) == 2


def test_guard_refuses_before_the_real_connect(
    network_guard: NetworkGuard, monkeypatch: pytest.MonkeyPatch
) -> None:
    reached: list[object] = []  # what the guard passed on to the (fake) real connect
    guarded = _guard_connect(
        network_guard, lambda sock, address: reached.append(address), "connect"
    )
    monkeypatch.setattr(socket.socket, "connect", guarded)
    with socket.socket() as sock:
        with pytest.raises(NetworkGuardError):
            sock.connect(OUTSIDE)
        sock.connect(("127.0.0.1", 9))
    assert reached == [("127.0.0.1", 9)]
    network_guard.refused.clear()


def test_create_connection_is_refused_before_resolving(refused: list[str]) -> None:
    with pytest.raises(NetworkGuardError, match="create_connection"):
        socket.create_connection(OUTSIDE, timeout=0.5)
    with pytest.raises(NetworkGuardError, match=r"example\.invalid"):
        socket.create_connection(("example.invalid", 443), timeout=0.5)
    assert len(refused) == 2


def test_getaddrinfo_of_a_remote_name_is_refused_without_dns(refused: list[str]) -> None:
    with pytest.raises(NetworkGuardError, match="no DNS lookup was made"):
        socket.getaddrinfo("pypi.org", 443)
    assert len(refused) == 1
    # names and literals that need no DNS still resolve
    assert socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)
    assert socket.getaddrinfo("10.255.255.1", 80, type=socket.SOCK_STREAM)
    assert socket.getaddrinfo(None, 80, type=socket.SOCK_STREAM)


def test_loopback_and_unix_sockets_work(tmp_path: object) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            accepted.append(conn.recv(5))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with socket.create_connection(("localhost", port), timeout=5) as client:
        client.sendall(b"hello")
    thread.join(5)
    server.close()
    assert accepted == [b"hello"]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
        assert unix.connect_ex(str(tmp_path) + "/nothing.sock") != 0  # refused by the OS only


def test_a_swallowed_refusal_still_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["floe_testing.network"]')
    pytester.makepyfile(
        test_sneaky="""
        import socket

        def test_retries_quietly():
            try:
                socket.create_connection(("10.255.255.1", 80), timeout=0.5)
            except Exception:
                pass  # "best effort" telemetry
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*floe network guard: socket.create_connection*refused*"])
