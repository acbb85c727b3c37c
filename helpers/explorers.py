"""Interactive explorers of models already trained in the kernel (introduced in 01; used by 01, 02, 04, 05).

Each explorer is one call in its notebook that returns an :class:`Explorer`; as the last line of
a cell it displays itself:

- in a notebook open in JupyterLab (``helpers.frontend.live_frontend``): ipywidgets controls
  (sliders, drop-downs) above an ``Image`` widget that is redrawn whenever a control moves;
- in papermill, ``nbconvert --execute``, the runner and therefore every PDF route: one static
  matplotlib figure of the initial setting, and no widget placeholder text.

Nothing is retrained: every redraw is a forward pass of the given models.

=============================  =====================================================  ========
explorer                       what it shows                                          notebook
=============================  =====================================================  ========
:func:`conv_size_calculator`   conv/pool output size: formula against a real layer    01 (002.P4.1)
:func:`activation_explorer`    a test image's activation map and the layer's filters  01 (002.P4.2, 001)
:func:`latent_explorer`        2-D embedding beside the image decoded at a point      02 (002.P5.4, P6.1, P6.2)
:func:`noise_explorer`         noise level -> noisy input, denoised output, PSNR      04 (004.Ex3, 002.P6.3)
:func:`generator_explorer`     resample and interpolate a generator's inputs          05 (003.5)
=============================  =====================================================  ========
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .frontend import live_frontend
from .training import evaluating

RENDER_DPI = 144  # the widget's PNGs: 1.44x the figure size in inches at 100 dpi, sharp on screen


class Explorer:
    """Controls plus a drawing function: a live widget in JupyterLab, one static figure elsewhere (01).

    ``draw(**values)`` returns a matplotlib figure for the controls' current values. ``controls``
    maps a keyword of ``draw`` to an ipywidgets control; ``on_change`` may adjust controls (e.g. a
    slider's range when the layer changes) before the redraw.
    """

    def __init__(
        self,
        name: str,
        draw: Callable[..., Any],
        controls: Mapping[str, Any],
        on_change: Callable[[str, Explorer], None] | None = None,
    ):
        self.name, self.draw, self.controls, self.on_change = name, draw, dict(controls), on_change
        self._widget = None
        self._adjusting = False
        self.redraws = 0

    @property
    def values(self) -> dict[str, Any]:
        """The controls' current values, as keywords for ``draw``."""
        return {key: control.value for key, control in self.controls.items()}

    def figure(self, **overrides):
        """The figure for the current values (or ``overrides``), e.g. for saving or for a test."""
        return self.draw(**{**self.values, **overrides})

    def png(self) -> bytes:
        """The current figure as PNG bytes (what the image widget shows)."""
        import matplotlib.pyplot as plt

        fig = self.figure()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=RENDER_DPI)
        plt.close(fig)
        return buffer.getvalue()

    @property
    def widget(self):
        """The ipywidgets box: a row of controls and the image, redrawn when a control moves."""
        if self._widget is None:
            import ipywidgets as widgets

            image = widgets.Image(value=self.png(), format="png", layout=widgets.Layout(max_width="100%"))
            image.add_class("workbook-explorer-image")
            row = widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
            self._widget = _explorer_box_class()([row, image])
            self._widget.add_class("workbook-explorer")
            self._widget.fallback_png = image.value
            self._widget.description = self.name

            def redraw(change):
                if self._adjusting:  # a control moved by on_change: one redraw at the end
                    return
                key = next((k for k, c in self.controls.items() if c is change["owner"]), "")
                if self.on_change:
                    self._adjusting = True
                    try:
                        self.on_change(key, self)
                    finally:
                        self._adjusting = False
                image.value = self.png()
                self.redraws += 1

            for control in self.controls.values():
                control.observe(redraw, names="value")
        return self._widget

    def _ipython_display_(self):
        from IPython.display import display

        if live_frontend():
            display(self.widget)
        else:
            import matplotlib.pyplot as plt

            from .plots import figure_caption

            fig = self.figure()
            caption = figure_caption(fig)  # the PDF's "Figure N: ..." (helpers.report)
            display(fig, metadata={"caption": f"{caption} (first setting; interactive in JupyterLab)".lstrip()})
            plt.close(fig)


@functools.cache
def _explorer_box_class():
    import ipywidgets as widgets

    class ExplorerBox(widgets.VBox):
        """A VBox whose notebook output also carries a PNG of its first view: a saved notebook
        exported to PDF/LaTeX shows that picture instead of the widget's placeholder text."""

        fallback_png: bytes = b""
        description: str = "explorer"

        def _repr_mimebundle_(self, **kwargs):
            import base64

            data = super()._repr_mimebundle_(**kwargs) or {}
            if self.fallback_png:
                data["image/png"] = base64.b64encode(self.fallback_png).decode("ascii")
            data["text/plain"] = f"{self.description} (interactive in JupyterLab)"
            return data

    return ExplorerBox


# --------------------------------------------------------------------------- small pieces


def _digits(step: float) -> int:
    """Decimals that show a change of one ``step``."""
    return max(2, int(np.ceil(-np.log10(step))) + 1) if step > 0 else 2


def _slider(kind: str, description: str, value, low, high, step):
    import ipywidgets as widgets

    options = {} if kind == "int" else {"readout_format": f".{_digits(step)}f"}
    cls = widgets.IntSlider if kind == "int" else widgets.FloatSlider
    return cls(
        value=value,
        min=low,
        max=high,
        step=step,
        description=description,
        continuous_update=False,
        style={"description_width": "initial"},
        layout=widgets.Layout(width="260px"),
        **options,
    )


def _dropdown(description: str, options: Sequence[str], value=None):
    import ipywidgets as widgets

    options = list(options)
    return widgets.Dropdown(
        options=options,
        value=value if value is not None else options[0],
        description=description,
        style={"description_width": "initial"},
        layout=widgets.Layout(width="240px"),
    )


def _image(t: torch.Tensor) -> np.ndarray:
    t = t.detach().cpu().float()
    if t.ndim == 3:
        t = t[0] if t.shape[0] == 1 else t.permute(1, 2, 0)
    return t.numpy()


def _device(model) -> torch.device:
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError, TypeError):
        return torch.device("cpu")


def _show(ax, image, title: str = "", **options) -> None:
    ax.imshow(
        _image(image) if isinstance(image, torch.Tensor) else image, **{"cmap": "gray", "vmin": 0, "vmax": 1, **options}
    )
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


# --------------------------------------------------------------------------- 002.P4.1 output sizes

POOLING = {"max-pool": nn.MaxPool2d, "avg-pool": nn.AvgPool2d}


def output_size_check(kind: str, size: int, kernel: int, stride: int = 1, padding: int = 0) -> dict[str, Any]:
    """The formula's output side and a real torch layer's, for a ``size`` x ``size`` input (01, 002.P4.1).

    ``kind`` is ``conv``, ``max-pool`` or ``avg-pool``. Returns ``formula`` and ``torch`` (``None``
    with the reason in ``formula_error`` / ``torch_error`` where one of them refuses the setting).
    """
    from .models.classifiers import conv_output_size

    if kind != "conv" and kind not in POOLING:
        raise ValueError(f"unknown layer kind {kind!r}; use 'conv', {', '.join(repr(k) for k in POOLING)}")
    result: dict[str, Any] = {"formula": None, "torch": None, "formula_error": None, "torch_error": None}
    try:
        result["formula"] = conv_output_size(size, kernel, stride, padding)
    except ValueError as error:
        result["formula_error"] = str(error)
    try:
        layer = nn.Conv2d(1, 1, kernel, stride, padding) if kind == "conv" else POOLING[kind](kernel, stride, padding)
        with torch.no_grad():
            shape = layer(torch.zeros(1, 1, size, size)).shape[-2:]
        if shape[0] != shape[1]:
            raise RuntimeError(f"non-square output {tuple(shape)}")
        result["torch"] = int(shape[0])
    except (RuntimeError, ValueError) as error:
        result["torch_error"] = str(error).splitlines()[0]
    return result


def _size_figure(kind: str, n: int, k: int, s: int, p: int):
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    check = output_size_check(kind, n, k, s, p)
    out = check["formula"] or 0
    shown = min(out, 40)
    gap = min(1.0, 12 / max(shown, 1))  # window rows squeeze together when there are many
    fig, ax = plt.subplots(figsize=(8.0, 3.6))
    ax.set_xlim(-0.5, n + 2 * p + 0.5)
    ax.set_ylim(-1.5 - shown * gap, 1.4)
    for i in range(n + 2 * p):  # one input row: padding cells hatched
        padded = i < p or i >= n + p
        ax.add_patch(
            Rectangle(
                (i, 0),
                0.92,
                0.92,
                facecolor="white" if padded else "#9ecae1",
                edgecolor="#555555",
                hatch="//" if padded else None,
                linewidth=0.5,
            )
        )
    for j in range(shown):  # one window per output position
        y = -1.2 - j * gap
        ax.add_patch(Rectangle((j * s, y), k - 0.08, 0.8 * gap, facecolor="#d62728", alpha=0.4, edgecolor="#d62728"))
    ax.set_axis_off()
    if check["formula"] is not None and check["torch"] is not None:
        verdict = "agree" if check["formula"] == check["torch"] else "DISAGREE"
        text = (
            f"formula ⌊({n} + 2·{p} − {k}) / {s}⌋ + 1 = {check['formula']}; "
            f"torch {kind} layer: {check['torch']}×{check['torch']} — {verdict}"
        )
    else:
        text = (
            f"formula: {check['formula'] if check['formula'] is not None else check['formula_error']}\n"
            f"torch: {check['torch'] if check['torch'] is not None else check['torch_error']}"
        )
    ax.set_title(f"002.P4.1 {kind}, input {n}×{n}, kernel {k}, stride {s}, padding {p}\n{text}", fontsize=9)
    fig.text(
        0.01,
        0.01,
        "top: one row of the padded input (hatched = padding); red bars: the windows, one per output pixel",
        fontsize=7,
        color="#555555",
    )
    fig.tight_layout()
    return fig


def conv_size_calculator(
    size: int = 50, kernel: int = 4, stride: int = 1, padding: int = 1, kind: str = "conv"
) -> Explorer:
    """002.P4.1's output-size calculator: pick conv/pooling, n, k, s, p; see the windows and both sizes (01)."""
    controls = {
        "kind": _dropdown("layer", ["conv", *POOLING], kind),
        "n": _slider("int", "input n", size, 1, 64, 1),
        "k": _slider("int", "kernel k", kernel, 1, 11, 1),
        "s": _slider("int", "stride s", stride, 1, 6, 1),
        "p": _slider("int", "padding p", padding, 0, 5, 1),
    }
    return Explorer("conv/pool output-size calculator", _size_figure, controls)


# --------------------------------------------------------------------------- 001 / 002.P4.2 activations


def _conv_layers(model) -> dict[str, Any]:
    """Convolution layers by name: ``nn.Conv2d`` modules, or the engine's ``Conv2dSame`` layers."""
    if isinstance(model, nn.Module):
        return {name: module for name, module in model.named_modules() if isinstance(module, nn.Conv2d)}
    layers = getattr(model, "layers", None)
    if layers is None:
        raise TypeError(
            f"cannot find convolution layers in {type(model).__name__}; pass an nn.Module or "
            "a helpers.engine.Sequential"
        )
    convs = [i for i, layer in enumerate(layers) if "W" in getattr(layer, "params", {}) and layer.params["W"].ndim == 4]
    return {f"conv{n + 1}": i for n, i in enumerate(convs)}


@torch.no_grad()
def layer_activation(model, layer, image: torch.Tensor) -> torch.Tensor:
    """The output (C x H x W) of convolution ``layer`` for one image (an nn.Module or an engine net) (01)."""
    x = image[None]
    if isinstance(model, nn.Module):
        found = {}
        handle = layer.register_forward_hook(lambda module, inputs, output: found.setdefault("out", output))
        try:
            with evaluating(model):
                model(x.to(_device(model)))
        finally:
            handle.remove()
        return found["out"][0].cpu()
    dtype = model.layers[layer].params["W"].dtype
    return model.forward(x.to(dtype), upto=layer + 1)[0].float()


def _layer_weight(model, layer) -> torch.Tensor:
    weight = layer.weight if isinstance(model, nn.Module) else model.layers[layer].params["W"]
    return weight.detach().cpu().float()


def _mosaic(tiles: Sequence[np.ndarray], gap: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Equal-sized tiles in a near-square grid (NaN gaps); the top-left corner of each tile."""
    h, w = tiles[0].shape
    cols = int(np.ceil(np.sqrt(len(tiles) * h / w)))
    rows = int(np.ceil(len(tiles) / cols))
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    corners = []
    for n, tile in enumerate(tiles):
        r, c = (n // cols) * (h + gap), (n % cols) * (w + gap)
        out[r : r + h, c : c + w] = tile
        corners.append((r, c))
    return out, corners


def _filter_bank(weight: torch.Tensor) -> tuple[np.ndarray, list[tuple[int, int]], tuple[int, int]]:
    """All filters of a layer in one array: each filter a block of its per-input-channel kernels."""
    blocks = [_mosaic(list(weight[o].numpy()), 1)[0] for o in range(weight.shape[0])]
    bank, corners = _mosaic(blocks, 2)
    return bank, corners, blocks[0].shape


def activation_explorer(model, data, caption: str = "", layers: Mapping[str, Any] | None = None) -> Explorer:
    """001 / 002.P4.2: pick a test image, a conv layer and a channel; see the activation map and the filters (01).

    ``model`` is a trained ``nn.Module`` (its ``nn.Conv2d`` layers) or a ``helpers.engine``
    network (its conv layers); ``data`` an ``ImageDataset`` (its images and labels).
    """
    from matplotlib import pyplot as plt
    from matplotlib.patches import Rectangle

    layers = dict(layers or _conv_layers(model))
    if not layers:
        raise ValueError(f"{type(model).__name__} has no convolution layers to explore")
    channels = {name: _layer_weight(model, layer).shape[0] for name, layer in layers.items()}

    def draw(index: int, layer: str, channel: int):
        channel = min(channel, channels[layer] - 1)
        image = data.images[index]
        maps = layer_activation(model, layers[layer], image)
        weight = _layer_weight(model, layers[layer])
        fig = plt.figure(figsize=(10.0, 3.6))
        grid = fig.add_gridspec(1, 3, width_ratios=[1, 1, 1.3])
        _show(fig.add_subplot(grid[0]), image, f"test image {index}: {data.classes[int(data.labels[index])]}")
        limit = float(maps[channel].abs().max()) or 1.0
        ax = fig.add_subplot(grid[1])
        _show(
            ax,
            maps[channel].numpy(),
            f"{layer} channel {channel}: {tuple(maps.shape[1:])} map",
            cmap="RdBu_r",
            vmin=-limit,
            vmax=limit,
        )
        ax = fig.add_subplot(grid[2])
        bank, corners, (bh, bw) = _filter_bank(weight)
        bound = float(np.nanmax(np.abs(bank))) or 1.0
        inputs = f", each {weight.shape[1]} input channels" if weight.shape[1] > 1 else ""
        _show(
            ax,
            bank,
            f"all {weight.shape[0]} {layer} filters ({weight.shape[2]}×{weight.shape[3]}{inputs});\n"
            f"filter {channel} outlined",
            cmap="RdBu_r",
            vmin=-bound,
            vmax=bound,
        )
        r, c = corners[channel]
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), bw, bh, fill=False, edgecolor="black", linewidth=2, clip_on=False))
        fig.suptitle(f"activation map and filters {caption}".strip(), fontsize=11)
        fig.tight_layout()
        return fig

    first = next(iter(layers))
    controls = {
        "index": _slider("int", "test image", 0, 0, len(data) - 1, 1),
        "layer": _dropdown("layer", list(layers), first),
        "channel": _slider("int", "channel", 0, 0, channels[first] - 1, 1),
    }

    def on_change(key, explorer):
        if key == "layer":
            slider = explorer.controls["channel"]
            slider.max = channels[explorer.controls["layer"].value] - 1

    return Explorer("activation explorer", draw, controls, on_change)


# --------------------------------------------------------------------------- 002.P5.4 / P6.1 / P6.2 latent


def _decode(model: nn.Module, code: Sequence[float]) -> torch.Tensor:
    with evaluating(model):
        image = model.decode(torch.tensor([list(code)], dtype=torch.float32, device=_device(model)))[0].cpu()
    return image.clamp(0, 1)


def latent_explorer(
    models: Mapping[str, tuple[nn.Module, np.ndarray]], data, caption: str = "", max_points: int = 2000
) -> Explorer:
    """002.P5.4/P6.1/P6.2: the 2-D codes of ``data`` beside the image decoded at a chosen point (02).

    ``models`` maps a label to ``(autoencoder, codes)``: a trained model with ``decode`` and the
    N x 2 codes of ``data`` it produced. Sliders pick the point; a skip model decodes with zero
    skips (the code alone).
    """
    from matplotlib import pyplot as plt

    from .plots import scatter_2d

    models = dict(models)
    for label, (_, codes) in models.items():
        if np.asarray(codes).shape[1:] != (2,):
            raise ValueError(f"{label}: codes must be N x 2, got {np.asarray(codes).shape}")
    labels = np.asarray(data.labels)
    keep = np.random.default_rng(0).permutation(len(labels))[:max_points]
    ranges = {
        label: (np.percentile(codes, 1, axis=0), np.percentile(codes, 99, axis=0))
        for label, (_, codes) in models.items()
    }

    def draw(model: str, x: float, y: float):
        net, codes = models[model]
        fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 4.2), width_ratios=[1.6, 1])
        scatter_2d(
            np.asarray(codes)[keep], labels[keep], data.classes, f"{model}: 2-D codes of the test images", ax=left, s=4
        )
        left.plot([x], [y], marker="x", color="black", markersize=12, markeredgewidth=2.5)
        skips = " (skips zero)" if getattr(net, "skip", False) else ""
        digits = _digits(float(np.min(ranges[model][1] - ranges[model][0])) / 50)
        _show(right, _decode(net, (x, y)), f"decoded at ({x:.{digits}f}, {y:.{digits}f}){skips}")
        fig.suptitle(f"latent-space explorer {caption}".strip(), fontsize=11)
        fig.tight_layout()
        return fig

    first = next(iter(models))
    (x0, y0), (x1, y1) = ranges[first]
    mid = (x0 + x1) / 2, (y0 + y1) / 2
    controls = {
        "model": _dropdown("model", list(models), first),
        "x": _slider("float", "code x", float(mid[0]), float(x0), float(x1), float((x1 - x0) / 50)),
        "y": _slider("float", "code y", float(mid[1]), float(y0), float(y1), float((y1 - y0) / 50)),
    }

    def on_change(key, explorer):
        if key == "model":
            low, high = ranges[explorer.controls["model"].value]
            for axis, slider in enumerate((explorer.controls["x"], explorer.controls["y"])):
                with slider.hold_trait_notifications():
                    slider.min, slider.max = -1e9, 1e9  # widen first so min <= max holds throughout
                    slider.min, slider.max = float(low[axis]), float(high[axis])
                    slider.step = float((high[axis] - low[axis]) / 50)
                    slider.readout_format = f".{_digits(slider.step)}f"
                    slider.value = float((low[axis] + high[axis]) / 2)

    return Explorer("latent-space explorer", draw, controls, on_change)


# --------------------------------------------------------------------------- 004.Ex3 / 002.P6.3 noise


def noise_explorer(
    models: Mapping[str, nn.Module], data, sigma: float = 0.3, caption: str = "", n_psnr: int = 200, seed: int = 0
) -> Explorer:
    """004.Ex3 / 002.P6.3: a noise-level slider; noisy input, each model's denoised output and PSNR (04).

    The noise pattern is drawn once (``seed``) and scaled by the slider's sigma, so moving the
    slider changes only the level. The PSNR in the title is the mean over the first ``n_psnr``
    test images, the per-panel one is that image's.
    """
    from matplotlib import pyplot as plt

    from .metrics import psnr

    models = dict(models)
    clean = data.images[: max(n_psnr, 1)]
    pattern = torch.randn(clean.shape, generator=torch.Generator().manual_seed(seed))

    def outputs(noisy: torch.Tensor) -> dict[str, torch.Tensor]:
        result = {}
        for label, model in models.items():
            with evaluating(model):
                result[label] = model(noisy.to(_device(model))).cpu().clamp(0, 1)
        return result

    def draw(sigma: float, index: int):
        noisy = (clean + sigma * pattern).clamp(0, 1)
        denoised = outputs(noisy)
        panels = {"clean": clean, f"noisy, σ={sigma:.2f}": noisy, **denoised}
        fig, axes = plt.subplots(1, len(panels), figsize=(2.3 * len(panels), 2.9), squeeze=False)
        for ax, (label, images) in zip(axes[0], panels.items()):
            detail = "" if label == "clean" else f"\n{psnr(clean[index : index + 1], images[index : index + 1]):.1f} dB"
            _show(ax, images[index], f"{label}{detail}")
        means = ", ".join(
            f"{label} {psnr(clean, images):.1f} dB" for label, images in {"noisy": noisy, **denoised}.items()
        )
        fig.suptitle(f"mean PSNR over {len(clean)} test images: {means} {caption}".strip(), fontsize=9)
        fig.tight_layout()
        return fig

    controls = {
        "sigma": _slider("float", "noise σ", float(sigma), 0.0, 1.0, 0.05),
        "index": _slider("int", "test image", 0, 0, len(clean) - 1, 1),
    }
    return Explorer("noise-level explorer", draw, controls)


# --------------------------------------------------------------------------- 003.5 generator inputs


def generator_explorer(G: nn.Module, caption: str = "", steps: int = 9) -> Explorer:
    """003.5: resample two generator inputs (by seed) and interpolate between them (05)."""
    from matplotlib import pyplot as plt

    from .gan_training import sample

    def z(seed: int) -> torch.Tensor:
        return torch.randn(1, G.latent_dim, generator=torch.Generator().manual_seed(int(seed)))

    def draw(seed_a: int, seed_b: int, t: float):
        za, zb = z(seed_a), z(seed_b)
        weights = torch.linspace(0, 1, steps)[:, None]
        strip = sample(G, torch.cat([za, (1 - t) * za + t * zb, zb, (1 - weights) * za + weights * zb]))
        fig = plt.figure(figsize=(9.0, 4.4))
        grid = fig.add_gridspec(2, steps, height_ratios=[2.2, 1])
        thirds = [grid[0, : steps // 3], grid[0, steps // 3 : 2 * steps // 3], grid[0, 2 * steps // 3 :]]
        titles = [f"G(z_a), seed {seed_a}", f"G((1-t) z_a + t z_b), t={t:.2f}", f"G(z_b), seed {seed_b}"]
        for cell, image, title in zip(thirds, strip[:3], titles):
            _show(fig.add_subplot(cell), image, title)
        for i in range(steps):
            _show(fig.add_subplot(grid[1, i]), strip[3 + i], f"{i / (steps - 1):.2f}")
        fig.suptitle(f"generator inputs: resample and interpolate {caption}".strip(), fontsize=11)
        fig.tight_layout()
        return fig

    controls = {
        "seed_a": _slider("int", "seed a", 0, 0, 999, 1),
        "seed_b": _slider("int", "seed b", 1, 0, 999, 1),
        "t": _slider("float", "t", 0.5, 0.0, 1.0, 0.05),
    }
    return Explorer("generator explorer", draw, controls)
