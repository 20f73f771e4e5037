"""environment.yml (conda users) must list the same dependencies as pyproject.toml."""

from __future__ import annotations

import re
import tomllib

import yaml
from packaging.requirements import Requirement

from helpers import paths

ROOT = paths.REPO_ROOT


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _conda_specs(environment: dict) -> dict[str, str]:
    specs = {}
    for entry in environment["dependencies"]:
        if isinstance(entry, str) and entry != "pip":
            match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*([<>=!~,.0-9*\s]*)", entry)
            assert match, f"not a conda match spec: {entry!r}"
            specs[match.group(1).lower()] = match.group(2).replace(" ", "")
    return specs


def _sorted_spec(spec: str) -> str:
    return ",".join(sorted(filter(None, spec.split(","))))


def test_environment_yml_matches_pyproject():
    project = _pyproject()["project"]
    environment = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert environment["channels"] == ["conda-forge"]
    wanted = {}
    for line in project["dependencies"] + project["optional-dependencies"]["dev"]:
        requirement = Requirement(line)
        wanted[requirement.name.lower()] = _sorted_spec(str(requirement.specifier))
    wanted["python"] = _sorted_spec(project["requires-python"])
    found = {name: _sorted_spec(spec) for name, spec in _conda_specs(environment).items()}
    assert found == wanted
    pip_section = next(e for e in environment["dependencies"] if isinstance(e, dict))
    assert pip_section["pip"] == ["-e .[dev]"]
