"""Project hygiene: pinned environments agree, notebooks are paired, parameterised and runnable."""

from __future__ import annotations

import ast
import re
import tomllib

import jupytext
import nbformat
import papermill
import pytest
import yaml

from helpers.paths import REPO_ROOT
from helpers.runner import available_notebooks

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def pins(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
            assert match, f"unpinned requirement {line!r}"
            found[match.group(1).lower()] = match.group(2)
    return found


def test_requirements_and_environment_yml_pin_the_same_packages():
    requirements = pins((REPO_ROOT / "requirements.txt").read_text().splitlines())
    environment = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert pins(pip_section) == requirements
    assert requirements["torch"] == "2.14.1" and requirements["torchvision"] == "0.29.1"
    assert "python=3.11" in environment["dependencies"]


def test_the_cluster_extra_is_pinned_and_kept_out_of_the_base_requirements():
    extra = pins((REPO_ROOT / "requirements-extra.txt").read_text().splitlines())
    assert set(extra) == {"dask", "distributed"} and extra["dask"] == extra["distributed"]
    assert not set(extra) & set(pins((REPO_ROOT / "requirements.txt").read_text().splitlines()))
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["optional-dependencies"]["cluster"] == ["dask[distributed]"]


def test_there_are_notebooks_and_every_source_has_its_ipynb():
    assert NOTEBOOKS
    assert sorted(p.stem for p in NOTEBOOKS) == available_notebooks()


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_jupytext_pair_is_in_sync(source):
    text = jupytext.read(source)
    ipynb = jupytext.read(source.with_suffix(".ipynb"))
    assert [(c.cell_type, c.source) for c in text.cells] == [(c.cell_type, c.source) for c in ipynb.cells], (
        f"{source.name} and its .ipynb differ: run `jupytext --sync {source}`"
    )


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_kernelspec_and_a_literal_parameters_cell(source):
    nb = nbformat.read(str(source.with_suffix(".ipynb")), as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "the first code cell must be tagged parameters"
    declared = papermill.inspect_notebook(str(source.with_suffix(".ipynb")))
    assert declared["profile"]["default"] == '"default"'
    for line in code[0].source.splitlines():
        statement = line.split("#")[0].strip()
        if statement:
            name, value = statement.split("=", 1)
            assert name.strip() in declared, f"papermill cannot parse {line!r}"
            ast.literal_eval(value.strip())  # literals only: derived values belong in the next cell
