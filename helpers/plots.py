"""Figures in one visual language, saved under ``figures/`` (introduced in 01, used by 01-05).

Plot functions take data (histories, tensors, matrices) and return a matplotlib ``Figure``;
``NotebookRun.figure`` saves it under a stable name. Every title names the data set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def use_style() -> None:
    """Apply the workbook's plotting style once (seaborn whitegrid, readable sizes) (01)."""
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", palette=PALETTE)
    matplotlib.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 130,
            "savefig.bbox": "tight",
            "axes.titlesize": 11,
            "figure.titlesize": 12,
            "image.cmap": "gray",
        }
    )
    from .frontend import in_kernel

    if in_kernel():  # inline figures at twice the resolution: sharp on screen and in the PDF
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")


def integer_ticks(axis) -> None:
    """Ticks at whole numbers only (epochs, steps): no 1.5th epoch on an axis (01)."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


WALL_CLOCK_ATTRIBUTE = "workbook_wall_clock"


def mark_wall_clock(fig):
    """Mark ``fig`` as drawn from measured wall-clock seconds (02): such a figure differs between two
    cold runs even where every trained number agrees; ``NotebookRun.figure`` lists it in the
    metrics under ``wall_clock_figures``. Returns ``fig``."""
    setattr(fig, WALL_CLOCK_ATTRIBUTE, True)
    return fig


def shows_wall_clock(fig) -> bool:
    """Whether ``fig`` was marked by :func:`mark_wall_clock` (``curves`` marks its ``x="time_s"`` plots) (02)."""
    return bool(getattr(fig, WALL_CLOCK_ATTRIBUTE, False))


def _as_image(t: torch.Tensor) -> np.ndarray:
    t = t.detach().cpu().float()
    if t.ndim == 3 and t.shape[0] in (1, 3):
        t = t.permute(1, 2, 0)
    if t.ndim == 3 and t.shape[-1] == 1:
        t = t[..., 0]
    return t.numpy()


def image_grid(
    images: torch.Tensor,
    title: str,
    ncols: int = 10,
    labels: Sequence[str] | None = None,
    cell: float = 0.9,
    cmap: str = "gray",
    normalize: bool = False,
):
    """A grid of images (N x C x H x W) with optional per-image labels (01)."""
    n = len(images)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * cell, nrows * cell + 0.5), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            image = _as_image(images[k])
            if normalize:
                image = (image - image.min()) / max(image.max() - image.min(), 1e-8)
            ax.imshow(image, cmap=cmap, vmin=None if normalize else 0, vmax=None if normalize else 1)
            if labels is not None:
                ax.set_title(str(labels[k]), fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_rows(rows: Mapping[str, torch.Tensor], title: str, cell: float = 0.9):
    """Aligned rows of images, one row per name (inputs / reconstructions / ...) (02, 04)."""
    names = list(rows)
    ncols = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(names), ncols, figsize=(ncols * cell + 1.2, len(names) * cell + 0.5), squeeze=False)
    for r, name in enumerate(names):
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(rows[name]):
                ax.imshow(_as_image(rows[name][c]).clip(0, 1), cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    keys: Sequence[str],
    title: str,
    x: str = "epoch",
    ylabel: str | None = None,
    xlabel: str | None = None,
    logy: bool = False,
    colors: Mapping[str, str] | None = None,
    ax=None,
):
    """Plot ``keys`` (e.g. train_loss, test_loss) of several runs against ``x``, on ``ax`` if given (01)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8)) if ax is None else (ax.figure, ax)
    styles = ["-", "--", ":", "-."]
    names = list(histories)
    for i, (name, hist) in enumerate(histories.items()):
        color = (colors or {}).get(name, PALETTE[i % len(PALETTE)])
        for j, key in enumerate(keys):
            if key in hist:
                label = f"{name} · {key}" if len(names) > 1 else key
                ax.plot(
                    hist[x],
                    hist[key],
                    styles[j % len(styles)],
                    color=color,
                    label=label,
                    marker="o" if len(hist[x]) <= 20 else None,
                    markersize=3,
                )
    ax.set_xlabel(xlabel or x)
    if x in ("epoch", "step"):
        integer_ticks(ax.xaxis)
    ax.set_ylabel(ylabel or ", ".join(keys))
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    if x.endswith("time_s"):  # measured seconds on the x axis
        mark_wall_clock(fig)
    return fig


def _data_paths(ax):
    """``(display-space path, drawn as a line)`` for the lines, markers and points on ``ax`` (legends)."""
    from matplotlib.path import Path as MplPath

    for line in ax.lines:
        if line.get_visible() and len(line.get_xydata()):
            path = line.get_transform().transform_path(line.get_path())
            yield path, line.get_linestyle() not in ("None", "", " ")
    for collection in ax.collections:
        offsets = collection.get_offsets()
        if len(offsets) > 1:  # scatter points
            yield MplPath(collection.get_offset_transform().transform(offsets)), False
        else:  # line collections (error bars)
            for path in collection.get_paths():
                yield collection.get_transform().transform_path(path), True


def legend_covers_data(ax, renderer) -> bool:
    """Whether ``ax``'s legend lies over any of its lines or points (a drawn figure; legend placement)."""
    legend = ax.get_legend()
    if legend is None:
        return False
    box = legend.get_window_extent(renderer)
    for path, is_line in _data_paths(ax):
        xy = path.vertices
        if len(xy) and (
            ((xy[:, 0] >= box.x0) & (xy[:, 0] <= box.x1) & (xy[:, 1] >= box.y0) & (xy[:, 1] <= box.y1)).any()
        ):
            return True
        if is_line and len(xy) > 1 and path.intersects_bbox(box, filled=False):
            return True
    return False


def keep_legends_off_data(fig) -> None:
    """Move every legend that covers a curve or point out of its axes (01-05, via ``NotebookRun.figure``).

    A legend stays where it was put when that spot is free of data; otherwise it goes to the right
    of a lone axes (or of one in the last column), below one in the bottom row, and elsewhere (a
    grid with no room outside) to matplotlib's ``loc="best"`` on a translucent frame. The layout is
    left as it is (a new ``tight_layout`` would run the suptitle into the axes' titles): the saved
    figure's tight bounding box takes the legend in.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None or not legend_covers_data(ax, renderer):
            continue
        handles, labels = ax.get_legend_handles_labels()
        style = {
            "fontsize": legend.get_texts()[0].get_fontsize() if legend.get_texts() else 8,
            "markerscale": legend.markerscale,
            "title": legend.get_title().get_text() or None,
        }
        spec = ax.get_subplotspec()
        last_col, last_row = (True, True) if spec is None else (spec.is_last_col(), spec.is_last_row())
        legend.remove()
        if len(fig.axes) == 1 or (last_col and not last_row):
            ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, **style)
        elif last_row:
            tight = ax.get_tightbbox(renderer)
            below = ax.transAxes.inverted().transform((0, tight.y0))[1] - 0.03
            width = ax.get_window_extent(renderer).width
            for ncol in range(min(len(labels), 4), 0, -1):  # as many columns as fit the axes' width
                placed = ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, below), ncol=ncol, **style)
                if placed.get_window_extent(renderer).width <= width:
                    break
        else:
            ax.legend(handles, labels, loc="best", ncol=getattr(legend, "_ncols", 1), framealpha=0.75, **style)


def confusion_plot(matrix: np.ndarray, classes: Sequence[str], title: str):
    """A labelled confusion-matrix heat map (rows true, columns predicted) (01)."""
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(6.2, 5.2))
    sns.heatmap(
        matrix,
        annot=True,
        fmt="d",
        cmap="Blues",
        cbar=False,
        ax=ax,
        xticklabels=classes,
        yticklabels=classes,
        annot_kws={"fontsize": 7},
    )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def scatter_2d(points: np.ndarray, labels: np.ndarray, classes: Sequence[str], title: str, ax=None, s: float = 6):
    """A 2-D embedding coloured by class (t-SNE, PCA, AE codes) (01, 02)."""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.4, 4.6))
    points, labels = np.asarray(points), np.asarray(labels)
    for k, name in enumerate(classes):
        mask = labels == k
        ax.scatter(points[mask, 0], points[mask, 1], s=s, color=PALETTE[k % 10], label=name, alpha=0.8)
    ax.set_title(title)
    ax.legend(fontsize=7, markerscale=2, loc="best", ncol=2)
    if fig is not None:
        fig.tight_layout()
    return fig or ax.figure


def figure_caption(fig) -> str:
    """The caption of a figure: its suptitle, else its axes' titles joined by '; ' (01-05, via
    ``NotebookRun.figure``: the PDF shows it as "Figure N: caption")."""
    if fig._suptitle is not None and fig._suptitle.get_text().strip():
        return " ".join(fig._suptitle.get_text().split())
    titles = [" ".join(ax.get_title().split()) for ax in fig.axes if ax.get_title().strip()]
    return "; ".join(dict.fromkeys(titles))


class VectorGraph:
    """An architecture graph rendered to PNG, SVG and PDF files (01).

    Displayed in a notebook it offers SVG (JupyterLab draws it sharp, at its natural size) and
    PDF (nbconvert's LaTeX route embeds it as a vector figure); ``path`` is the PNG.
    """

    def __init__(self, stem, caption: str = ""):
        from pathlib import Path

        self.stem = Path(stem)
        self.caption = caption

    @property
    def path(self):
        """The PNG file (for the README and the figure list)."""
        return self.stem.with_suffix(".png")

    def __fspath__(self) -> str:
        return str(self.path)

    def _repr_mimebundle_(self, include=None, exclude=None):
        import base64

        pdf = base64.b64encode(self.stem.with_suffix(".pdf").read_bytes()).decode("ascii")
        data = {
            "image/svg+xml": self.stem.with_suffix(".svg").read_text(),
            "application/pdf": pdf,
            "text/plain": f"architecture graph {self.stem.name}",
        }
        return data, {"caption": self.caption}


def _pair(value) -> str:
    a, b = (value, value) if isinstance(value, int) else tuple(value)[:2]
    return f"{a}×{b}"


def layer_description(module) -> str:
    """A short name for a layer, with its kernel and stride: 'Conv 3×3 /2', 'MaxPool 2×2' (graphs; 01, 02, 05)."""
    from torch import nn

    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        stride = f" /{_pair(module.stride).split('×')[0]}" if module.stride not in (1, (1, 1)) else ""
        kind = "ConvT" if isinstance(module, nn.ConvTranspose2d) else "Conv"
        return f"{kind} {_pair(module.kernel_size)}{stride}"
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        return f"{type(module).__name__[:7]} {_pair(module.kernel_size)}"
    if isinstance(module, nn.Linear):
        return f"Linear {module.in_features}→{module.out_features}"
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return "BN"
    if isinstance(module, nn.AdaptiveAvgPool2d) and module.output_size in (1, (1, 1)):
        return "global avg pool"
    return type(module).__name__


_FOLLOWERS = ("BatchNorm1d", "BatchNorm2d", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Dropout", "Dropout2d", "GELU")


def _layers(module):
    """The layers of ``module`` in order (a graph's :class:`_Unit` opened up)."""
    for m in module.modules():
        if isinstance(m, _Unit):
            yield from _layers(m.chain)
        elif not any(True for _ in m.children()):
            yield m


def module_summary(module) -> list[str]:
    """A container's layers, one line per weighted or pooling layer with its normalisation and
    activation: ['Conv 1×1 + BN + ReLU', 'Conv 3×3 + BN + ReLU'] (graphs; 01, 02, 05)."""
    lines: list[str] = []
    for leaf in _layers(module):
        text = layer_description(leaf)
        if lines and type(leaf).__name__ in _FOLLOWERS:
            lines[-1] += f" + {text}"
        elif type(leaf).__name__ != "Identity":
            lines.append(text)
    return lines or [type(module).__name__]


def _plain_chain(module) -> bool:
    """An ``nn.Sequential`` of layers with one weighted layer at most (a conv + BN + ReLU unit):
    drawn as one box, not a cluster; longer chains keep a box (and a shape) per layer."""
    from torch import nn

    weighted = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
    return (
        isinstance(module, nn.Sequential)
        and not any(any(True for _ in c.children()) for c in module.children())
        and sum(isinstance(c, weighted) for c in module.children()) <= 1
    )


def _shape(shapes) -> str:
    """``[(1, 32, 14, 14)]`` -> '32×14×14' (the batch dimension dropped)."""
    shown = ["×".join(map(str, s[1:])) or "scalar" for s in shapes]
    if len(set(shown)) == 1 and len(shown) > 1:
        return f"{len(shown)} × {shown[0]}"
    return ", ".join(shown)


def _compact_label(graph, node, inline: bool = False) -> str:
    """One node of the graph as an HTML label: its name (one line per layer) above its output
    shape, or beside it (``inline``)."""
    import html

    from torchview.computation_node import TensorNode

    if isinstance(node, TensorNode):
        name, shape = node.name.replace("-tensor", ""), _shape([node.tensor_shape])
    else:
        name, shape = node.name, "→ " + _shape(node.output_shape)
    lines = name.split("\n")
    if len(lines) == 2 and lines[0].endswith(":") and len(lines[0]) + len(lines[1]) <= 22:
        lines = [f"{lines[0]} {lines[1]}"]  # 'conv2: Conv 3×3 + BN' on one line
    cells = ["<BR/>".join(html.escape(line) for line in lines), html.escape(shape)]
    rows = "<TR>" + "".join(f"<TD>{c}</TD>" for c in cells) + "</TR>" if inline else ""
    rows = rows or "".join(f"<TR><TD>{c}</TD></TR>" for c in cells)
    return f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="2">{rows}</TABLE>>'


# The room a graph has on a PDF page (inches: the text width, most of the text height).
GRAPH_PAGE = (6.5, 7.8)


def graph_size(visual) -> tuple[float, float]:
    """A graphviz graph's natural width and height in inches."""
    header = visual.pipe(format="plain").decode().split("\n", 1)[0].split()
    return float(header[2]), float(header[3])


def graph_scale(visual) -> float:
    """How much a graphviz graph is scaled to fit :data:`GRAPH_PAGE` (1: at its natural size)."""
    width, height = graph_size(visual)
    return min(1.0, GRAPH_PAGE[0] / width, GRAPH_PAGE[1] / height)


class _Unit(torch.nn.Module):
    """A conv + BN + ReLU chain traced as one layer: its layers run through ``forward`` (not
    ``__call__``), so torchview records them as the unit's inner functions and draws one box."""

    def __init__(self, chain):
        super().__init__()
        object.__setattr__(self, "chain", chain)  # not a registered child

    def forward(self, x):
        for layer in self.chain:
            x = layer.forward(x)
        return x


def _graph_copy(model):
    """A CPU copy of ``model`` whose plain layer chains are :class:`_Unit` s, and the names to show:
    ``{id(module): (attribute, module to describe)}``."""
    import copy

    traced = copy.deepcopy(model).cpu()
    names = {id(m): (path.rsplit(".", 1)[-1], m) for path, m in traced.named_modules() if path}
    for path, module in list(traced.named_modules()):
        if path and _plain_chain(module) and len(module) > 1:
            parent, _, attr = path.rpartition(".")
            unit = _Unit(module)
            names[id(unit)] = names[id(module)]
            setattr(traced.get_submodule(parent) if parent else traced, attr, unit)
    return traced, names


def _name_modules(graph, names) -> None:
    """Name each module node after its attribute and layers: a box 'path3:' / 'Conv 1×1 + BN + ReLU' /
    'Conv 3×3 + BN + ReLU', a dashed cluster 'block1 (InceptionBlock)' (torchview shows bare class
    names, such as 'Sequential')."""
    from torchview.computation_node import ModuleNode

    def visit(hierarchy) -> None:
        for node in [hierarchy] if not isinstance(hierarchy, dict) else list(hierarchy):
            if isinstance(node, ModuleNode) and node.compute_unit_id in names:
                attr, module = names[node.compute_unit_id]
                if not node.is_container and node.depth < graph.depth:  # torchview: is_container = a leaf
                    node.name = f"{attr} ({type(module).__name__})"
                else:
                    has_children = any(True for _ in module.children())
                    lines = module_summary(module) if has_children else [layer_description(module)]
                    node.name = "\n".join(lines if attr.isdigit() else [f"{attr}:", *lines])
            if isinstance(hierarchy, dict):
                for child in hierarchy[node]:
                    visit(child)

    visit(graph.node_hierarchy)


def architecture_graph(model, input_size: tuple[int, ...], path, depth: int = 2, title: str = "") -> VectorGraph:
    """Render ``model``'s computation graph with torchview + graphviz to ``path`` (.png, .svg, .pdf) (01).

    torchview traces a real forward pass, so parallel branches and skip connections appear as
    they are executed (a ``print(model)`` only lists modules, not how they are wired). The trace
    runs on a copy under a forked RNG, so drawing a model before training leaves its training unchanged.
    Nodes are named after their attribute with their layers ('path3:' / 'Conv 1×1 + BN + ReLU' /
    'Conv 3×3 + BN + ReLU'; a plain conv + BN + ReLU chain is one box) and show their output shape
    (batch dimension dropped); labels are compact so that the graph fits a PDF page
    (:data:`GRAPH_PAGE`) with its 10 pt text shrunk as little as possible. Show the returned
    :class:`VectorGraph` with ``display``: its caption is ``title``.
    """
    from pathlib import Path
    from unittest import mock

    from torchview import draw_graph
    from torchview.computation_graph import ComputationGraph

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fill = ComputationGraph.fill_visual_graph

    def named_fill(graph) -> None:
        _name_modules(graph, names)
        fill(graph)

    def draw(inline: bool):
        traced, found = _graph_copy(model)
        names.clear()
        names.update(found)
        with (
            torch.random.fork_rng(devices=[]),  # a copy and a private RNG: the traced pass changes nothing
            mock.patch.object(ComputationGraph, "get_node_label", lambda g, n: _compact_label(g, n, inline)),
            mock.patch.object(ComputationGraph, "fill_visual_graph", named_fill),
        ):
            graph = draw_graph(
                traced,
                input_size=input_size,
                depth=depth,
                expand_nested=True,
                graph_name=title or type(model).__name__,
                device="cpu",
            )
        visual = graph.visual_graph
        visual.graph_attr.update(ranksep="0.15", nodesep="0.1", fontname="DejaVu Sans", margin="0")
        visual.graph_attr.pop("size", None)  # torchview's size cap would shrink it twice: the PDF scales it once
        visual.node_attr.update(fontname="DejaVu Sans", fontsize="10")
        visual.edge_attr.update(arrowsize="0.6")
        visual.attr(label=title, labelloc="t", fontsize="12")
        return visual

    names: dict = {}
    # Labels with the shape below the name (narrow, for parallel branches) or beside it (short, for
    # long chains): whichever is shrunk less on the page, so its text stays largest; then the shorter.
    visual = max((draw(False), draw(True)), key=lambda v: (graph_scale(v), -graph_size(v)[1]))
    for fmt in ("png", "svg", "pdf"):
        visual.render(filename=path.with_suffix("").name, directory=str(path.parent), format=fmt, cleanup=True)
    fixed_pdf_date(path.with_suffix(".pdf"))
    return VectorGraph(path.with_suffix(""), caption=title)


def fixed_pdf_date(path) -> None:
    """Replace the ``/CreationDate`` that cairo (graphviz's PDF writer) stamps from the clock with
    ``$SOURCE_DATE_EPOCH`` (0 when unset), in place and at the same length so the PDF's byte
    offsets stay valid: the same graph then gives the same bytes in every run (01).

    cairo 1.16 (Debian 12) ignores ``SOURCE_DATE_EPOCH`` itself; PNG and SVG carry no date.
    """
    import os
    import re
    import time
    from pathlib import Path

    path = Path(path)
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(int(os.environ.get("SOURCE_DATE_EPOCH", "0"))))

    def fixed(match: re.Match) -> bytes:
        zone = match.group(2) or b""
        return match.group(1) + stamp.encode() + (b"Z" if zone == b"Z" else b"+00'00'"[: len(zone)])

    data = path.read_bytes()
    path.write_bytes(re.sub(rb"(/(?:CreationDate|ModDate) ?\(D:)\d{14}(Z|[+-]\d\d'\d\d'?)?", fixed, data))


def gradient_descent_1d_figure(title: str, etas=(0.05, 0.15, 0.3), start: float = 2.2, steps: int = 12):
    """Gradient-descent paths on C(v) = v^2 - 2 cos 3v for a few learning rates (002.P1.1)."""
    cost = lambda v: v**2 - 2 * np.cos(3 * v)  # noqa: E731
    slope = lambda v: 2 * v + 6 * np.sin(3 * v)  # noqa: E731
    grid = np.linspace(-2.6, 2.6, 400)
    fig, axes = plt.subplots(1, len(etas), figsize=(4 * len(etas), 3.3), sharey=True)
    for ax, eta in zip(axes, etas):
        path = [start]
        for _ in range(steps):
            path.append(path[-1] - eta * slope(path[-1]))
        path = np.array(path)
        ax.plot(grid, cost(grid), color="0.4")
        ax.plot(path, cost(path), "o-", color="#d62728", markersize=3, linewidth=1)
        ax.set_title(f"η = {eta}: ends at v = {path[-1]:.2f}")
        ax.set_xlabel("v")
    axes[0].set_ylabel("C(v)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
