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


class VectorGraph:
    """An architecture graph rendered to PNG, SVG and PDF files (01).

    Displayed in a notebook it offers SVG (JupyterLab draws it sharp, at its natural size) and
    PDF (nbconvert's LaTeX route embeds it as a vector figure); ``path`` is the PNG.
    """

    def __init__(self, stem):
        from pathlib import Path

        self.stem = Path(stem)

    @property
    def path(self):
        """The PNG file (for the README and the figure list)."""
        return self.stem.with_suffix(".png")

    def __fspath__(self) -> str:
        return str(self.path)

    def _repr_mimebundle_(self, include=None, exclude=None):
        import base64

        pdf = base64.b64encode(self.stem.with_suffix(".pdf").read_bytes()).decode("ascii")
        return {
            "image/svg+xml": self.stem.with_suffix(".svg").read_text(),
            "application/pdf": pdf,
            "text/plain": f"architecture graph {self.stem.name}",
        }


def architecture_graph(model, input_size: tuple[int, ...], path, depth: int = 2, title: str = "") -> VectorGraph:
    """Render ``model``'s computation graph with torchview + graphviz to ``path`` (.png, .svg, .pdf) (01).

    torchview traces a real forward pass, so parallel branches and skip connections appear as
    they are executed (a ``print(model)`` only lists modules, not how they are wired). The trace
    runs on a copy under a forked RNG, so drawing a model before training leaves its training unchanged.
    Show the returned :class:`VectorGraph` with ``display``.
    """
    import copy
    from pathlib import Path

    from torchview import draw_graph

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):  # a copy and a private RNG: the traced pass changes nothing
        graph = draw_graph(
            copy.deepcopy(model).cpu(),
            input_size=input_size,
            depth=depth,
            expand_nested=True,
            graph_name=title or type(model).__name__,
            device="cpu",
        )
    graph.visual_graph.attr(label=title, labelloc="t", fontsize="14")
    for fmt in ("png", "svg", "pdf"):
        graph.visual_graph.render(
            filename=path.with_suffix("").name, directory=str(path.parent), format=fmt, cleanup=True
        )
    fixed_pdf_date(path.with_suffix(".pdf"))
    return VectorGraph(path.with_suffix(""))


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
