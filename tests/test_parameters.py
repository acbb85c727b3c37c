"""The run contract: one set of effective parameters whichever way a notebook runs, checked first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers.parameters import ParameterError, declared_defaults, injected_names, load_profiles, resolve
from helpers.paths import REPO_ROOT, environment, notebooks_dir
from helpers.runner import RunError, execute


def test_the_profile_applies_and_an_explicit_value_wins():
    smoke = resolve("02_autoencoders", {"profile": "smoke"})
    assert smoke["ae_epochs"] == 2 and smoke["grid_latent"] == [5, 10] and smoke["batch_size"] == 128
    given = resolve("02_autoencoders", {"profile": "smoke", "ae_epochs": 12}, explicit={"ae_epochs"})
    assert given["ae_epochs"] == 12  # the default's value, but given on purpose
    edited = resolve("02_autoencoders", {"profile": "smoke", "ae_epochs": 7})  # an edited parameters cell
    assert edited["ae_epochs"] == 7 and edited["clf_epochs"] == 2
    assert resolve("02_autoencoders", {"profile": "default"}) == declared_defaults("02_autoencoders")


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("ae_epochs", "ten", r"'ae_epochs': got 'ten' \(a string\); expected a whole number"),
        ("seed", "01", r"'seed': got '01' \(a string\); expected a whole number .*no leading zero"),
        ("seed", 1.5, r"'seed': got 1.5 \(a float\); expected a whole number"),
        ("grid_latent", 5, r"'grid_latent': got 5 \(an integer\); expected a list such as \[5, 10\]"),
        ("grid_latent", [5, "x"], r"'grid_latent\[1\]': got 'x'"),
        ("train_limit", 5, r"'train_limit': got 5; accepted: 0 \(keep every image\) or at least 10"),
        ("batch_size", 0, r"'batch_size': got 0; accepted: a whole number >= 1"),
        ("lr", -1e-3, r"'lr': got -0.001; accepted: a number > 0"),
        (
            "mnist_dataset",
            "mnist-100k",
            r"'mnist_dataset': got 'mnist-100k'; accepted: a registered data set: mnist-10k",
        ),
        ("profile", "fast", r"'profile': got 'fast'; accepted: one of smoke, default, full"),
        ("epochz", 3, r"unknown parameter\(s\) \['epochz'\]; its parameters cell declares profile, seed"),
    ],
)
def test_bad_parameters_are_refused_with_name_value_and_what_is_accepted(name, value, message):
    with pytest.raises(ParameterError, match=message):
        resolve("02_autoencoders", {"profile": "default", name: value}, explicit={name})


@pytest.mark.parametrize("name, value", [("ae_epochs", "ten"), ("seed", 1.5), ("train_limit", 5), ("batch_size", 0)])
def test_the_runner_refuses_bad_parameters_before_any_kernel_starts(tmp_path, name, value):
    with pytest.raises(RunError, match=f"'{name}': got {value!r}"):
        execute("02_autoencoders", "smoke", {name: value}, out_dir=tmp_path)
    assert not (tmp_path / "notebooks").exists()


def test_every_profile_file_lists_the_parameters_cell_exactly():
    import papermill

    for source in sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb")):
        cell = {name: info["default"] for name, info in papermill.inspect_notebook(str(source)).items()}
        defaults = declared_defaults(source.stem)
        assert list(cell) == list(defaults), f"{source.name}: parameters cell and [default] list other names"
        import ast

        assert {k: ast.literal_eval(v) for k, v in cell.items()} == defaults, source.name
        for profile in load_profiles(source.stem):
            resolve(source.stem, {"profile": profile})  # every profile's values pass the checks


def test_papermill_injected_names_are_the_explicit_ones():
    history = ["import x", 'profile = "default"\nseed = 0', '# Parameters\nprofile = "smoke"\nseed = 0\n', "run = 1"]
    assert injected_names(history) == {"profile", "seed"}
    assert injected_names(history + ['profile = "default"\nseed = 0']) == set()  # parameters cell re-run alone
    assert injected_names(None) == set()


# --------------------------------------------------------------------------- the three ways to run


def _environment(root: Path) -> dict[str, str]:
    return {
        **os.environ,
        "WORKBOOK_CHECKPOINTS": str(root / "checkpoints"),
        "WORKBOOK_OUTPUT": str(root / "out"),
        "WORKBOOK_PROGRESS": "off",
    }


@pytest.mark.notebook
def test_plain_papermill_and_an_edited_parameters_cell_run_the_smoke_workload(smoke_run, tmp_path):
    """``papermill -p profile smoke`` and nbclient on a notebook whose parameters cell says smoke both
    give the runner's smoke run: same sizes, and (sharing its stored runs) the same numbers."""
    import nbclient

    from helpers.metrics import read_metrics

    reference = smoke_run("04_denoising")
    env = {**_environment(smoke_run.root), "WORKBOOK_OUTPUT": str(tmp_path / "papermill")}
    papermill = Path(sys.executable).with_name("papermill")
    by_papermill_run = subprocess.Popen(  # beside the nbclient run below (both reuse the stored runs)
        [
            str(papermill),
            "notebooks/04_denoising.ipynb",
            str(tmp_path / "pm.ipynb"),
            "-k",
            "python3",
            "-p",
            "profile",
            "smoke",
            "--cwd",
            "notebooks",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    notebook = nbformat.read(str(notebooks_dir() / "04_denoising.ipynb"), 4)
    parameters = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    assert 'profile = "default"' in parameters.source
    parameters.source = parameters.source.replace('profile = "default"', 'profile = "smoke"')
    with environment(
        WORKBOOK_OUTPUT=str(tmp_path / "nbclient"), WORKBOOK_CHECKPOINTS=str(smoke_run.root / "checkpoints")
    ):
        nbclient.NotebookClient(
            notebook, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(notebooks_dir())}}
        ).execute()
    by_nbclient = read_metrics(tmp_path / "nbclient" / "metrics" / "04_denoising.json")
    output = by_papermill_run.communicate(timeout=600)[0]
    assert by_papermill_run.returncode == 0, output[-3000:]
    by_papermill = read_metrics(tmp_path / "papermill" / "metrics" / "04_denoising.json")

    for metrics in (by_papermill, by_nbclient):
        assert metrics["profile"] == "smoke" and metrics["parameters"] == reference["parameters"]
        assert metrics["data"] == {"ex3_train": 600, "ex3_test": 300} == reference["data"]
        # the same stored models, so the same numbers up to float32 summation order in evaluation
        assert metrics["004.Ex3"]["denoise_psnr_after"] == pytest.approx(
            reference["004.Ex3"]["denoise_psnr_after"], rel=1e-6
        )
        for key in ("mse_skip", "mse_noskip", "mse_noisy_skip", "mse_noisy_noskip"):
            assert metrics["002.P6.3"][key] == pytest.approx(reference["002.P6.3"][key], rel=1e-6)


@pytest.mark.notebook
@pytest.mark.parametrize(
    "flag, message",
    [(["-p", "seed", "1.5"], "'seed': got 1.5"), (["-p", "epochz", "3"], r"unknown parameter\(s\) \['epochz'\]")],
)
def test_plain_papermill_refuses_bad_parameters_in_the_setup_cell(tmp_path, flag, message):
    papermill = Path(sys.executable).with_name("papermill")
    done = subprocess.run(
        [
            str(papermill),
            "notebooks/04_denoising.ipynb",
            str(tmp_path / "x.ipynb"),
            "-k",
            "python3",
            *flag,
            "--cwd",
            "notebooks",
        ],
        cwd=REPO_ROOT,
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    executed = nbformat.read(str(tmp_path / "x.ipynb"), 4)
    errors = [
        o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert errors and errors[0].ename == "ParameterError"
    import re

    assert re.search(message, errors[0].evalue)
    assert not (tmp_path / "checkpoints").exists()  # nothing trained
