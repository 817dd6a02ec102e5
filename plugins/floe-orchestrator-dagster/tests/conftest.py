"""Dagster tests never send telemetry (CI has no network): set before any instance exists.

``postgres_dsn``: the test PostgreSQL (skips with a reason, fails on CI, when it is absent).
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "yes")


@pytest.fixture
def postgres_dsn() -> str:
    import sqlalchemy as sa

    dsn = os.environ.get("FLOE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        engine = sa.create_engine(
            dsn.replace("postgresql://", "postgresql+psycopg2://", 1),
            connect_args={"connect_timeout": 3},
        )
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        reason = (
            f"PostgreSQL not reachable ({type(exc).__name__}); start it at 127.0.0.1:5432 or "
            "set FLOE_TEST_POSTGRES_DSN to enable this test"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return dsn
