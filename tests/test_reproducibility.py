"""Same parameters, same machine, same thread count: the same bits (README, "Reproducibility").

Two cold runs in fresh processes (other hash seeds, empty stored-run folders) train, record and
draw through ``NotebookRun`` like a notebook does; every metric and every figure byte must agree,
except the measured wall-clock seconds and the figures drawn from them, which the metrics list.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from helpers import allocator
from helpers.metrics import is_wall_clock, without_wall_clock
from helpers.plots import fixed_pdf_date
from helpers.training import Trainer, device_identity

ROOT = Path(__file__).resolve().parents[1]

COLD_RUN = """
import torch
from helpers.data import load_splits
from helpers.models import autoencoders as ae
from helpers.notebook import NotebookRun
from helpers.plots import architecture_graph, curves, image_grid
from helpers.training import predict

run = NotebookRun("02_autoencoders", {"profile": "smoke", "seed": 0}, {"000": "mnist-10k"}, device="cpu")
train, test = load_splits("mnist-10k")
train, test = train.limited(200), test.limited(100)
torch.manual_seed(0)
model = ae.conv_classifier(12)
h = run.fit(model, "repro", train, test, 2, task="classification", loss="cross_entropy", batch_size=50,
            show_progress=False)
run.record("probe", test_loss=h.last("test_loss"), test_acc=h.last("test_acc"), time_s=h.last("time_s"),
           logits=predict(model, test.head(4)).tolist())
run.figure(curves({"probe": h.epoch}, ["train_loss", "test_loss"], title="loss per epoch"), "loss", show=False)
run.figure(curves({"probe": h.epoch}, ["test_acc"], x="time_s", title="accuracy vs time"), "acc_time", show=False)
filters = model.encoder.features[0].weight.detach()
run.figure(image_grid(filters, "first filters", normalize=True), "filters", show=False)
architecture_graph(model, (1, 1, 28, 28), run.figures_dir / "graph", title="probe")
run.finish()
"""


def start_cold_run(folder: Path, hash_seed: str, preload: dict[str, str] | None = None) -> subprocess.Popen:
    env = {
        **{key: value for key, value in os.environ.items() if key != "LD_PRELOAD"},
        **(preload or {}),
        "PYTHONPATH": str(ROOT),
        "PYTHONHASHSEED": hash_seed,
        "WORKBOOK_CHECKPOINTS": str(folder / "checkpoints"),
        "WORKBOOK_OUTPUT": str(folder / "out"),
        "WORKBOOK_PROGRESS": "off",
        "MPLBACKEND": "Agg",
    }
    return subprocess.Popen([sys.executable, "-c", COLD_RUN], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)


def outputs(folder: Path, process: subprocess.Popen) -> tuple[dict, dict[str, bytes]]:
    """The metrics and figure bytes of a finished cold run."""
    _, errors = process.communicate()
    assert process.returncode == 0, errors
    metrics = json.loads(next((folder / "out").rglob("metrics/02_autoencoders.json")).read_text())
    figures = next((folder / "out").rglob("figures/02_autoencoders"))
    return metrics, {p.name: p.read_bytes() for p in sorted(figures.iterdir())}


def test_two_cold_runs_give_the_same_numbers_and_figure_bytes(tmp_path):
    # side by side; run a with the kernels' allocator (tcmalloc where installed), b with the system's
    runs = {
        "a": start_cold_run(tmp_path / "a", "1", allocator.kernel_environment()),
        "b": start_cold_run(tmp_path / "b", "2"),
    }
    (a_metrics, a_figures), (b_metrics, b_figures) = (outputs(tmp_path / name, p) for name, p in runs.items())
    expected = "tcmalloc" if allocator.kernel_environment() else "system"
    assert (a_metrics.pop("allocator"), b_metrics.pop("allocator")) == (expected, "system")
    assert a_metrics["cpu_threads"] == b_metrics["cpu_threads"] >= 1 and a_metrics["processor"]
    assert a_metrics["wall_clock_figures"] == b_metrics["wall_clock_figures"] == ["acc_time.png"]
    assert without_wall_clock(a_metrics) == without_wall_clock(b_metrics)
    assert "time_s" in a_metrics["probe"] and "time_s" not in without_wall_clock(a_metrics)["probe"]
    assert sorted(a_figures) == sorted(b_figures) == [
        "acc_time.png", "filters.png", "graph.pdf", "graph.png", "graph.svg", "loss.png",
    ]  # fmt: skip
    differing = [name for name in a_figures if a_figures[name] != b_figures[name]]
    assert set(differing) <= set(a_metrics["wall_clock_figures"]), differing


def test_the_cpu_thread_count_is_part_of_a_stored_runs_identity():
    before = torch.get_num_threads()
    trainer = Trainer(epochs=1, device="cpu", show_progress=False)
    model = torch.nn.Linear(2, 2)
    try:
        torch.set_num_threads(1)
        one = trainer.config(model, None)
        torch.set_num_threads(2)
        two = trainer.config(model, None)
    finally:
        torch.set_num_threads(before)
    assert one["threads"] == 1 and two["threads"] == 2 and one != two
    assert device_identity("cpu")["device"] == "cpu" and "threads" not in device_identity("meta")


def test_wall_clock_keys_are_the_measured_seconds_only():
    assert all(map(is_wall_clock, ["wall_time_s", "time_s", "gan_time_s", "fit_s", "training_time"]))
    assert not any(map(is_wall_clock, ["test_loss", "epochs", "cpu_threads", "wall_clock_figures", "runs"]))


def test_a_pdf_creation_date_is_fixed_at_the_same_length(tmp_path, monkeypatch):
    path = tmp_path / "g.pdf"
    original = b"%PDF-1.5\n<< /Producer (cairo) /CreationDate (D:20261203061048+01'00') >>\nstartxref 12\n"
    path.write_bytes(original)
    fixed_pdf_date(path)
    assert path.read_bytes() == original.replace(b"20261203061048+01'00'", b"19700101000000+00'00'")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764720000")  # 2025-12-03 00:00 UTC
    path.write_bytes(original)
    fixed_pdf_date(path)
    assert b"/CreationDate (D:20251203000000+00'00')" in path.read_bytes()
