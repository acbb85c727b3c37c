"""Figures: whole-number epoch ticks, vector architecture graphs that fit a page with named
branches, legends off the curves, captions."""

from __future__ import annotations

import base64
import re
import shutil

import matplotlib.pyplot as plt
import pytest
from torch import nn

from helpers.plots import architecture_graph, curves


def test_epoch_axes_have_whole_number_ticks_only():
    fig = curves({"run": {"epoch": [1, 2, 3], "test_loss": [0.5, 0.4, 0.35]}}, ["test_loss"], title="t")
    fig.canvas.draw()
    ticks = [t for t in fig.axes[0].get_xticks() if fig.axes[0].get_xlim()[0] <= t <= fig.axes[0].get_xlim()[1]]
    plt.close(fig)
    assert ticks and all(float(t).is_integer() for t in ticks)


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is needed (make system-deps)")
def test_architecture_graph_is_offered_as_svg_and_pdf(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 26 * 26, 3))
    graph = architecture_graph(model, (1, 1, 28, 28), tmp_path / "g.png", title="tiny")
    assert graph.path.exists() and (tmp_path / "g.svg").exists()
    bundle, metadata = graph._repr_mimebundle_()
    assert metadata == {"caption": "tiny"}
    assert bundle["image/svg+xml"].lstrip().startswith(("<?xml", "<svg", "<!--"))
    assert base64.b64decode(bundle["application/pdf"])[:5] == b"%PDF-"


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is needed (make system-deps)")
def test_architecture_graphs_name_their_branches_and_fit_a_page_with_text_of_8pt_or_more(tmp_path):
    from helpers.models.classifiers import InceptionCNN, ResidualCNN
    from helpers.plots import GRAPH_PAGE

    for model in (InceptionCNN(), ResidualCNN()):
        graph = architecture_graph(model, (1, 1, 28, 28), tmp_path / f"{type(model).__name__}.png", title="t")
        svg = graph.stem.with_suffix(".svg").read_text()
        assert ">Sequential<" not in svg and "depth:" not in svg
        names = ("path1", "path3:", "path5:", "pool:", "block1 (InceptionBlock)")
        names = names if isinstance(model, InceptionCNN) else ("shortcut:", "conv2:", "layer1 (ResidualBlock)")
        assert all(name in svg for name in names), names
        assert "Conv 3×3 + BN + ReLU" in svg
        width, height = (float(v) for v in re.search(r'viewBox="0\.00 0\.00 ([\d.]+) ([\d.]+)"', svg).groups())
        scale = min(1.0, GRAPH_PAGE[0] * 72 / width, GRAPH_PAGE[1] * 72 / height)  # svg units are points
        assert 10 * scale >= 8, f"{type(model).__name__}: 10 pt text drawn at {10 * scale:.1f} pt"


def test_a_legend_over_the_curves_is_moved_off_them():
    import numpy as np

    from helpers.plots import keep_legends_off_data, legend_covers_data

    x = np.linspace(0, 1, 30)
    histories = {f"run{i}": {"epoch": list(range(30)), "test_loss": list(np.sin(6 * x + i))} for i in range(4)}
    fig = curves(histories, ["test_loss"], title="t")
    fig.canvas.draw()
    assert legend_covers_data(fig.axes[0], fig.canvas.get_renderer())  # nowhere free inside
    keep_legends_off_data(fig)
    fig.canvas.draw()
    assert not legend_covers_data(fig.axes[0], fig.canvas.get_renderer())
    plt.close(fig)


def test_a_figure_caption_is_its_suptitle_or_its_axes_titles():
    from helpers.plots import figure_caption

    fig, axes = plt.subplots(1, 2)
    axes[0].set_title("left (mnist-10k)")
    axes[1].set_title("right")
    assert figure_caption(fig) == "left (mnist-10k); right"
    fig.suptitle("the whole\nfigure")
    assert figure_caption(fig) == "the whole figure"
    plt.close(fig)
