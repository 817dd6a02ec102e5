"""A plugin module that needs an optional dependency that is not installed."""

import psycopg2_not_installed_for_floe_tests  # type: ignore[import-not-found]  # noqa: F401
