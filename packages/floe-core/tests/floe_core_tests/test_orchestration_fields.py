"""What an orchestrator needs from core: schedule/pool/description in floe.yaml, Runner.run_one."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from floe_core import FloeProject, PlatformManifest
from floe_core._cron import cron_problem
from floe_core._loader import ConfigFileError
from floe_core.registry import PluginRegistry
from floe_core.runner import Runner
from floe_core_tests._fakes import FakePlugin


@pytest.mark.parametrize(
    "expression",
    ["0 6 * * *", "*/15 * * * *", "0 0-23/2 1,15 jan-jun mon-fri", "30 6 * * 7", "@daily"],
)
def test_valid_cron_expressions(expression: str) -> None:
    assert cron_problem(expression) is None


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("0 6 * *", "has 4 field(s)"),
        ("61 * * * *", "minute 61 is outside 0-59"),
        ("0 6 * foo *", "month 'foo' is not a number"),
        ("0 6 * * */0", "step '0' must be a positive number"),
        ("0 9-5 * * *", "hour range '9-5' runs backwards"),
        ("@sometimes", "has 1 field(s)"),
    ],
)
def test_invalid_cron_expressions_say_which_field(expression: str, says: str) -> None:
    problem = cron_problem(expression)
    assert problem is not None and says in problem


def _project(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "floe.yaml"
    path.write_text(
        textwrap.dedent(
            """
            ingestion:
              sources:
                - name: orders
                  type: memory
                  config: {rows: 4, fail: [SOURCE_UNAVAILABLE]}
                  destination: {table: bronze.orders}
            """
        )
        + textwrap.indent(textwrap.dedent(extra), " " * 6)
    )
    return path


def test_schedule_pool_and_description_are_source_fields(tmp_path: Path) -> None:
    path = _project(tmp_path, "schedule: '0 6 * * *'\npool: shop-db\ndescription: Orders.\n")
    (source,) = FloeProject.load(path).sources
    assert (source.schedule, source.pool, source.description) == ("0 6 * * *", "shop-db", "Orders.")


def test_a_bad_schedule_or_pool_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match=r"sources\[0\]\.schedule: '0 25 \* \* \*': hour"):
        FloeProject.load(_project(tmp_path, "schedule: '0 25 * * *'\n"))
    with pytest.raises(ConfigFileError, match=r"sources\[0\]\.pool"):
        FloeProject.load(_project(tmp_path, "pool: 'a b'\n"))


def test_run_one_makes_exactly_one_attempt_with_the_given_config(tmp_path: Path) -> None:
    FakePlugin.reset()
    project = FloeProject.load(_project(tmp_path, ""))
    registry = PluginRegistry(entry_points=[])
    registry.register("fake", FakePlugin)
    manifest = PlatformManifest.model_validate({"plugins": {"ingestion": {"type": "fake"}}})
    sleeps: list[float] = []
    runner = Runner(manifest, registry, sleep=sleeps.append)
    (config,) = runner.configs(project)
    tagged = config.model_copy(update={"snapshot_properties": {"dagster.run-id": "r1"}})

    once = runner.run_one(project, tagged, retry=False)
    assert (once.success, once.attempts, once.errors[0].code) == (False, 1, "SOURCE_UNAVAILABLE")
    assert FakePlugin.calls.count("run:orders") == 1
    assert sleeps == []
    assert FakePlugin.calls[0] == "destination" and FakePlugin.calls[-1] == "shutdown"

    FakePlugin.reset()
    retried = runner.run_one(project, tagged)  # the manifest's policy: fails once, then lands
    assert (retried.success, retried.attempts, retried.rows_loaded) == (True, 2, 4)
