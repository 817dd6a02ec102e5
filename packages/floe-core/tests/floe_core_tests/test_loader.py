"""Hostile YAML: alias bombs, recursive aliases, huge files, and linear validation."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from floe_core import _loader
from floe_core._loader import MAX_ALIAS_NODES, ConfigFileError, read_yaml
from floe_core.cli import main
from floe_core.manifest import PlatformManifest
from floe_core.project import FloeProject
from floe_core.registry import PluginRegistry
from floe_core.runner import Runner
from floe_core_tests._fakes import FakePlugin

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_alias_bomb_is_one_configuration_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "floe.yaml"
    path.write_text(BOMB)
    assert len(BOMB.encode()) < 600
    with pytest.raises(ConfigFileError) as info:
        FloeProject.load(path)
    assert info.value.file == path
    assert "YAML aliases expand to 490,329,036 extra nodes; the limit is 10,000" in str(info.value)


def test_alias_bomb_in_validate_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    monkeypatch.chdir(tmp_path)
    (tmp_path / "floe.yaml").write_text(BOMB)
    result = CliRunner().invoke(main, ["validate", "floe.yaml"])
    assert result.exit_code == 2
    assert "floe.yaml: YAML aliases expand to" in result.stderr


def test_a_few_aliases_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("base: &b {x: 1, y: [1, 2, 3]}\none: *b\ntwo: {<<: *b, z: 3}\n")
    assert read_yaml(path, what="x") == {
        "base": {"x": 1, "y": [1, 2, 3]},
        "one": {"x": 1, "y": [1, 2, 3]},
        "two": {"x": 1, "y": [1, 2, 3], "z": 3},
    }


def test_aliases_just_over_the_limit_are_refused(tmp_path: Path) -> None:
    items = ", ".join(["1"] * 100)
    refs = ", ".join(["*a"] * (MAX_ALIAS_NODES // 101 + 1))
    path = tmp_path / "x.yaml"
    path.write_text(f"a: &a [{items}]\nb: [{refs}]\n")
    with pytest.raises(ConfigFileError, match="the limit is 10,000"):
        read_yaml(path, what="x")


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: &a [1, *a]\n")
    with pytest.raises(ConfigFileError, match="recursive alias"):
        read_yaml(path, what="x")


def test_file_over_the_size_limit_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_loader, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "platform-manifest.yaml"
    path.write_text("plugins: {}\n" + "#" * 1000 + "\n")
    with pytest.raises(ConfigFileError) as info:
        PlatformManifest.load(path)
    assert info.value.file == path
    assert "platform manifest is 1,013 bytes; the limit is 1,000 bytes" in info.value.message


def _floe_yaml(folder: Path, sources: int) -> Path:
    lines = ["ingestion:", "  sources:"]
    for i in range(sources):
        lines += [
            f"    - name: s{i}",
            "      type: memory",
            "      config: {rows: 1}",
            f"      destination: {{table: bronze.t{i}}}",
        ]
    path = folder / f"floe-{sources}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


class _CountingList(list[Any]):
    """A list that counts how many items were visited (iterated or indexed)."""

    visits = 0

    def __iter__(self) -> Iterator[Any]:
        for item in super().__iter__():
            self.visits += 1
            yield item

    def __getitem__(self, index: Any) -> Any:
        self.visits += 1
        return super().__getitem__(index)


def test_validating_many_sources_is_linear(tmp_path: Path) -> None:
    """Validate 2,000 then 20,000 sources: 10x the sources may cost ~10x the work.

    Counted, not timed: how often the runner visits a source of the project. The old
    per-source index lookup scanned the list for every source (~100x at 10x the sources).
    """
    registry = PluginRegistry(entry_points=[])
    registry.register("fake", FakePlugin)
    manifest = PlatformManifest.load(
        _write(tmp_path, "platform-manifest.yaml", "plugins: {ingestion: {type: fake}}\n")
    )
    visits = {}
    for sources in (2_000, 20_000):
        project = FloeProject.load(_floe_yaml(tmp_path, sources))
        counting = _CountingList(project.ingestion.sources)
        object.__setattr__(project.ingestion, "sources", counting)  # frozen model: swap in place
        checked = Runner(manifest, registry).validate(project)
        assert len(checked) == sources and all(error is None for _, error in checked)
        visits[sources] = counting.visits
        assert counting.visits <= 10 * sources, visits  # a few visits per source, not n each
    assert visits[20_000] <= 12 * visits[2_000], visits


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path
