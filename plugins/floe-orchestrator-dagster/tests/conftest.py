"""Dagster tests never send telemetry (CI has no network): set before any instance exists."""

from __future__ import annotations

import os

os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "yes")
