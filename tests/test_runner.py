"""The papermill runner: notebook 01 in the smoke profile, parameter checks, failing cells."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import nbformat
import pytest

import helpers.paths as paths
import helpers.runner as runner
from helpers.runner import RunError, execute


def test_unknown_parameter_is_refused_before_running(tmp_path):
    with pytest.raises(RunError, match="unknown parameter.*'epochz'.*declares profile, seed"):
        execute("01_cnn_classifier", "smoke", {"epochz": 3}, out_dir=tmp_path)


def test_unknown_notebook_lists_the_available_ones(tmp_path):
    with pytest.raises(RunError, match="no notebook .*99_nothing.*available: 01_cnn_classifier"):
        execute("99_nothing", "smoke", out_dir=tmp_path)


def test_failing_cell_names_notebook_and_cell_and_keeps_the_executed_copy(tmp_path, monkeypatch):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("profile = 'default'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("1 / 0")]
    nbformat.write(nb, str(folder / "98_broken.ipynb"))
    (folder / "profiles").mkdir()
    (folder / "profiles" / "98_broken.toml").write_text("[default]\n")
    monkeypatch.setattr(runner, "notebooks_dir", lambda: folder)
    monkeypatch.setattr(paths, "notebooks_dir", lambda: folder)
    with pytest.raises(RunError, match=r"98_broken: cell .*ZeroDivisionError.*kept at") as caught:
        execute("98_broken", "smoke", out_dir=tmp_path / "out")
    assert (tmp_path / "out" / "notebooks" / "98_broken.ipynb").exists()
    assert "98_broken" in str(caught.value)


def test_an_ipynb_out_of_sync_with_its_source_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "notebooks"
    shutil.copytree(paths.notebooks_dir(), folder)
    source = folder / "04_denoising.py"
    source.write_text(source.read_text().replace("sigma = 0.3 ", "sigma = 0.4 "))
    monkeypatch.setattr(runner, "notebooks_dir", lambda: folder)
    monkeypatch.setattr(paths, "notebooks_dir", lambda: folder)
    with pytest.raises(RunError, match=r"04_denoising.ipynb and 04_denoising.py differ .*jupytext --sync"):
        execute("04_denoising", "smoke", out_dir=tmp_path / "out")


def test_an_unwritable_output_folder_is_refused_before_the_kernel_starts(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RunError, match=f"cannot write to {blocker}/out"):
        execute("04_denoising", "smoke", out_dir=blocker / "out")


def test_a_full_disk_is_refused_before_the_kernel_starts(tmp_path, monkeypatch):
    import collections

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(paths.shutil, "disk_usage", lambda folder: usage(10**9, 10**9 - 10**6, 10**6))
    with pytest.raises(RunError, match=r"only 1 MiB free in .*out.*prune stored runs"):
        execute("04_denoising", "smoke", out_dir=tmp_path / "out")


def test_relative_paths_resolve_against_the_folder_the_command_ran_from(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PWD", str(tmp_path))
    monkeypatch.setenv("WORKBOOK_CHECKPOINTS", "ck")
    monkeypatch.setenv("WORKBOOK_OUTPUT", "out")
    assert paths.checkpoints_root() == tmp_path / "ck"
    assert paths.metrics_path("04_denoising", "smoke") == tmp_path / "out" / "metrics" / "04_denoising.json"
    assert runner._absolute_path_variables()["WORKBOOK_CHECKPOINTS"] == str(tmp_path / "ck")


def test_only_the_default_report_build_publishes_figures(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        runner,
        "execute",
        lambda name, profile, overrides, out: (
            calls.append((name, profile, overrides, out))
            or runner.NotebookResult(name, tmp_path / "x.ipynb", tmp_path / "m.json", 1.0)
        ),
    )
    monkeypatch.setattr(runner, "publish_figures", lambda result: calls.append("published") or paths.REPO_ROOT)
    import helpers.report as report

    monkeypatch.setattr(report, "build_report", lambda *args: [])
    runner.main(["04_denoising", "--profile", "smoke"])
    runner.main(["04_denoising", "-p", "seed=1"])
    runner.main(["04_denoising", "--out", str(tmp_path / "o")])
    runner.main(["04_denoising", "--no-report"])
    assert "published" not in calls
    runner.main(["04_denoising"])
    assert calls[-1] == "published"


def test_a_report_of_some_notebooks_says_which_ones_the_combined_report_leaves_out(monkeypatch, capsys, tmp_path):
    result = runner.NotebookResult("04_denoising", tmp_path / "x.ipynb", tmp_path / "m.json", 1.0)
    monkeypatch.setattr(runner, "execute", lambda name, profile, overrides, out: result)
    import helpers.report as report

    monkeypatch.setattr(report, "build_report", lambda *args: [])
    runner.main(["04_denoising", "--profile", "smoke"])
    note = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert len(note) == 1 and "only this run's notebook(s) (04_denoising)" in note[0]
    assert "01_cnn_classifier, 02_autoencoders, 03_transfer_learning, 05_gan" in note[0]
    runner.main(["04_denoising", "--profile", "smoke", "--no-report"])
    assert "note:" not in capsys.readouterr().out


def test_ctrl_c_in_the_runner_ends_with_one_line_saying_how_to_resume(tmp_path):
    env = {**os.environ, "WORKBOOK_CHECKPOINTS": str(tmp_path / "ck"), "WORKBOOK_PROGRESS": "off"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "helpers.runner",
            "04_denoising",
            "--profile",
            "smoke",
            "--no-report",
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=paths.REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.time() + 240
    while time.time() < deadline and not list((tmp_path / "ck").glob("04_denoising/*/*.json")):
        time.sleep(0.5)
    assert list((tmp_path / "ck").glob("04_denoising/*/*.json")), "no epoch was stored in time"
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert re.fullmatch(
        r"interrupted in 04_denoising; \S+ is stored after epoch \d+ of \d+\. Rerun the same "
        r"command to resume from the stored epochs\.",
        lines[-1],
    ), err
