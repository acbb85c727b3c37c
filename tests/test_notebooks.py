"""Every notebook executed once in the smoke profile through the runner (the ``smoke_run`` session
fixture): what all of them must do, then each notebook's own headline numbers."""

from __future__ import annotations

import nbformat
import numpy as np
import pytest

NOTEBOOKS = ["01_cnn_classifier", "02_autoencoders", "03_transfer_learning", "04_denoising", "05_gan"]


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_notebook_runs_clean_and_names_its_data_profile_and_parameters(smoke_run, notebook):
    metrics = smoke_run(notebook)
    assert metrics["notebook"] == notebook and metrics["profile"] == "smoke"
    assert metrics["datasets"] and all(metrics["datasets"].values())
    assert metrics["parameters"]["profile"] == "smoke" and metrics["wall_time_s"] > 0
    assert metrics["torch"].startswith("2.14")
    executed = nbformat.read(str(smoke_run.root / "out" / "notebooks" / f"{notebook}.ipynb"), 4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert list((smoke_run.root / "out" / "figures" / notebook).glob("*.png")), "no figure in the run folder"


@pytest.mark.notebook
def test_notebook_01_smoke_writes_metrics_that_name_data_and_profile(smoke_run):
    metrics = smoke_run("01_cnn_classifier")
    assert metrics["notebook"] == "01_cnn_classifier" and metrics["profile"] == "smoke"
    assert metrics["datasets"]["002.P4"] == "mnist-10k" and metrics["datasets"]["004.Ex1"] == "fashion-mnist"
    assert metrics["002.P4.1"] == {"a_side": 49, "b_side": 9, "c_side": 23, "d_side": 49}
    assert metrics["002.P4.2"]["test_acc"] > 0.2  # 10 classes: chance is 0.1
    assert metrics["002.P4.2"]["epochs"] == 1
    for name in ("sequential", "inception", "residual"):
        assert metrics[f"004.Ex1.{name}"]["params"] > 1000
        assert 0.0 <= metrics[f"004.Ex1.{name}"]["test_acc"] <= 1.0
    assert metrics["wall_time_s"] > 0 and metrics["torch"].startswith("2.14")


@pytest.mark.notebook
def test_notebook_01_smoke_theory_evidence(smoke_run):
    metrics = smoke_run("01_cnn_classifier")  # the 001 study itself: tests/test_engine.py
    assert metrics["000.T1"]["max_shift_error"] < 1e-10
    t2 = metrics["000.T2"]
    assert max(t2["constant"], t2["relu"], t2["pool_even_shift"]) < 1e-12 < 1e-3 < t2["pool_odd_shift"]
    assert metrics["000.T3"]["max_difference"] < 1e-12
    assert metrics["002.P2.2"]["max_error_delta_a_minus_y"] < 1e-12
    assert metrics["002.P3.3"]["max_difference"] < 1e-12


@pytest.mark.notebook
def test_smoke_figures_go_to_the_run_folder_not_the_report_folder(smoke_run):
    smoke_run("01_cnn_classifier")
    figures = smoke_run.root / "out" / "figures" / "01_cnn_classifier"
    names = {p.name for p in figures.glob("*.png")}
    assert {"002_P4_2_filters.png", "002_P4_2_confusion.png", "004_Ex1_graph_inception.png"} <= names
    executed = nbformat.read(str(smoke_run.root / "out" / "notebooks" / "01_cnn_classifier.ipynb"), 4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


@pytest.mark.notebook
def test_notebook_01_smoke_engine_study_learns_with_every_optimizer(smoke_run):
    metrics = smoke_run("01_cnn_classifier")
    runs = {key: metrics[f"001.{key}"] for key in ("sgd", "momentum", "rmsprop", "sgd_tuned")}
    for key, result in runs.items():
        assert result["last_train_loss"] < result["first_train_loss"], key
        assert 0.0 <= result["test_acc_100"] <= 1.0 and 0.0 <= result["test_acc_full"] <= 1.0, key
    assert runs["rmsprop"]["test_acc_full"] > 0.15 and runs["sgd_tuned"]["test_acc_full"] > 0.15  # chance: 0.10
    assert metrics["001.gradcheck"]["max_relative_error"] < 1e-6
    assert metrics["001.autograd_twin"]["max_abs_loss_difference"] < 1e-4


@pytest.mark.notebook
def test_autoencoders_notebook_runs_in_smoke_and_learns(smoke_run):
    metrics = smoke_run("02_autoencoders")
    for key in (
        "000.1",
        "000.2",
        "000.3",
        "000.4",
        "000.5",
        "002.P5.3",
        "002.P5.4",
        "002.P6.1",
        "002.P6.2",
        "003.1",
        "003.2",
        "003.3",
        "003.4",
    ):
        assert key in metrics, key
    assert metrics["datasets"]["000"] == "mnist-10k" and metrics["datasets"]["003"] == "fashion-mnist"
    assert 0 < metrics["000.1"]["test_l1"] < 0.5
    assert 0 < metrics["000.1"]["test_l1_no_fc_linear"] < 0.5  # the fair no-FC comparison is measured
    assert metrics["000.2"]["test_acc"] > 0.2  # chance is 0.1
    assert metrics["000.4"]["seeds"] >= 2 and 0 <= metrics["000.4"]["acc_std"] < 0.5
    assert metrics["003.2"]["points"] == 2
    assert 0 <= metrics["003.3"]["test_acc"] <= 1
    # measured, not typed: the skip model from its code alone, and the decoders' within-class spread
    assert metrics["002.P6.2"]["test_mse_code_alone"] > 0 and metrics["002.P6.2"]["test_mse_with_skips"] > 0
    assert 0 < metrics["000.3"]["pixel_spread_classifier"] and 0 < metrics["000.3"]["pixel_spread_ae"]
    assert {"pretraining", "pretraining_test_loss", "pretraining_reading"} <= set(metrics["000.5"]["verdicts"])


@pytest.mark.notebook
def test_notebook_smoke(smoke_run):
    metrics = smoke_run("03_transfer_learning")
    assert metrics["source"]["pretrain_test_acc"] > 0.2  # Fashion-MNIST, chance is 0.1 (2000 images, 1 epoch)
    assert "004.Ex2" not in metrics  # the real path is skipped offline
    for target in ("notmnist-10k", "mnist-10k"):
        values = {k: v for k, v in metrics[f"study.{target}"].items() if k != "verdicts"}
        assert len(values) == 4 * 2  # 4 strategies x 2 budgets in smoke
        assert all(0.0 <= v <= 1.0 for v in values.values())
        assert max(values.values()) > 0.2  # above chance (0.1)
        assert {"best_at_10", "finetune_vs_scratch_at_10"} <= set(metrics[f"study.{target}"]["verdicts"])


@pytest.mark.notebook
def test_notebook_04_smoke(smoke_run):
    metrics = smoke_run("04_denoising")
    assert metrics["profile"] == "smoke"
    ex3 = metrics["004.Ex3"]
    assert ex3["denoise_loss_last"] < ex3["denoise_loss_first"] and ex3["diabolo_ok"]
    assert ex3["denoise_psnr_after"] > ex3["denoise_psnr_before"]
    assert ex3["svm_acc_codes"] > 0.2 and ex3["svm_acc_pixels"] > 0.2
    assert ex3["shallow_loss_last"] < ex3["shallow_loss_first"]
    assert {"mse_noskip", "mse_skip"} <= set(metrics["002.P6.3"])


@pytest.mark.notebook
def test_gan_notebook_in_smoke(smoke_run):
    metrics = smoke_run("05_gan")
    item = metrics["003.5"]
    assert metrics["profile"] == "smoke" and metrics["datasets"]["003.5"] == "fashion-mnist"
    for key in ("gan_fd", "ae_fd", "real_fd", "gan_confidence", "gan_classes_covered", "d_loss_last"):
        assert key in item and np.isfinite(item[key])
    assert item["real_fd"] < item["gan_fd"] and item["real_fd"] < item["ae_fd"]
    assert item["d_loss_last"] < item["d_loss_first"]
    assert item["scorer_test_acc"] > 0.1
