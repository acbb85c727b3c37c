"""Figure helpers: drawing a model's graph must not change the model or the random stream."""

from __future__ import annotations

import shutil

import pytest
import torch

from helpers.models.gan import Generator
from helpers.plots import architecture_graph


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz 'dot' is not installed")
def test_architecture_graph_leaves_the_model_and_the_rng_untouched(tmp_path):
    G = Generator(latent_dim=8, image_size=28, width=8)
    buffers = {k: v.clone() for k, v in G.state_dict().items()}
    torch.manual_seed(3)
    expected_next = torch.rand(1)
    torch.manual_seed(3)
    path = architecture_graph(G, (2, 8), tmp_path / "g.png", title="test").path
    assert path.exists() and path.stat().st_size > 0
    assert torch.equal(torch.rand(1), expected_next)
    assert all(torch.equal(v, buffers[k]) for k, v in G.state_dict().items())
