from __future__ import annotations

import inspect
import subprocess
import sys
from importlib.metadata import entry_points

import floe_ingestion_airbyte


def test_all_names_are_importable_and_complete() -> None:
    public = {
        name
        for name, value in vars(floe_ingestion_airbyte).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert set(floe_ingestion_airbyte.__all__) == public | {"__version__"}


def test_entry_point_points_at_the_plugin() -> None:
    [ep] = [ep for ep in entry_points(group="floe.ingestion") if ep.name == "airbyte"]
    assert ep.load() is floe_ingestion_airbyte.AirbyteIngestionPlugin


def test_importing_the_package_stays_cheap() -> None:
    # plugin discovery imports the package: no testing aid, no heavy engines
    code = (
        "import sys, floe_ingestion_airbyte; "
        "print(sorted(m for m in ('floe_ingestion_airbyte.testing', 'dlt', 'pyiceberg', "
        "'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
