"""Figures: whole-number epoch ticks, vector architecture graphs."""

from __future__ import annotations

import base64
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
    bundle = graph._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith(("<?xml", "<svg", "<!--"))
    assert base64.b64decode(bundle["application/pdf"])[:5] == b"%PDF-"
