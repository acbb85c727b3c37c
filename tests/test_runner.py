"""The papermill runner: notebook 01 in the smoke profile, parameter checks, failing cells."""

from __future__ import annotations

import nbformat
import pytest

import helpers.run as runner
from helpers.run import RunError, execute, profile_parameters


@pytest.mark.notebook
def test_notebook_01_smoke_writes_metrics_that_name_data_and_profile(smoke_run):
    metrics = smoke_run("01_cnn_classifier")
    assert metrics["notebook"] == "01_cnn_classifier" and metrics["profile"] == "smoke"
    assert metrics["datasets"]["002.P4"] == "mnist-10k" and metrics["datasets"]["004.Ex1"] == "fashion-mnist"
    assert metrics["002.P4.1"] == {"a_side": 49, "b_side": 9, "c_side": 23, "d_side": 49}
    assert metrics["002.P4.2"]["test_acc"] > 0.2          # 10 classes: chance is 0.1
    assert metrics["002.P4.2"]["epochs"] == 1
    for name in ("sequential", "inception", "residual"):
        assert metrics[f"004.Ex1.{name}"]["params"] > 1000
        assert 0.0 <= metrics[f"004.Ex1.{name}"]["test_acc"] <= 1.0
    assert metrics["wall_time_s"] > 0 and metrics["torch"].startswith("2.14")


@pytest.mark.notebook
def test_notebook_01_smoke_theory_evidence(smoke_run):
    metrics = smoke_run("01_cnn_classifier")      # the 001 study itself: tests/test_engine.py
    assert metrics["000.T1"]["max_shift_error"] < 1e-10
    t2 = metrics["000.T2"]
    assert max(t2["constant"], t2["relu"], t2["pool_even_shift"]) < 1e-12 < 1e-3 < t2["pool_odd_shift"]
    assert metrics["000.T3"]["max_difference"] < 1e-12
    assert metrics["002.P2.2"]["max_error_delta_a_minus_y"] < 1e-12
    assert metrics["002.P3.3"]["max_difference"] < 1e-12


@pytest.mark.notebook
def test_smoke_figures_go_to_the_run_folder_not_the_report_folder(smoke_run):
    smoke_run("01_cnn_classifier")
    figures = smoke_run.root / "figures" / "01_cnn_classifier"
    names = {p.name for p in figures.glob("*.png")}
    assert {"002_P4_2_filters.png", "002_P4_2_confusion.png", "004_Ex1_graph_inception.png"} <= names
    executed = nbformat.read(str(smoke_run.root / "out" / "notebooks" / "01_cnn_classifier.ipynb"), 4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


def test_profiles_are_read_from_the_toml_file():
    assert profile_parameters("01_cnn_classifier", "smoke")["p42_epochs"] == 1
    assert profile_parameters("01_cnn_classifier", "default") == {"profile": "default"}
    with pytest.raises(RunError, match="unknown profile 'fast'"):
        profile_parameters("01_cnn_classifier", "fast")


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
    monkeypatch.setattr(runner, "notebooks_dir", lambda: folder)
    with pytest.raises(RunError, match=r"98_broken: cell .*ZeroDivisionError.*kept at") as caught:
        execute("98_broken", "smoke", out_dir=tmp_path / "out")
    assert (tmp_path / "out" / "notebooks" / "98_broken.ipynb").exists()
    assert "98_broken" in str(caught.value)
