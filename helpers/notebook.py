"""The setup call of every notebook: ``run = start_notebook(name, globals(), ...)`` (introduced in 01).

It resolves the notebook's effective parameters (the profile's values, explicit values winning;
see ``helpers.parameters``) into the notebook's globals and prints them once, checks that the
output folders are writable, seeds everything and picks the device. The returned
``NotebookRun`` knows where this run's figures, stored runs, model files and metrics go (the
layout is ``helpers.paths``'s), saves figures under stable names, collects headline numbers and
writes the metrics JSON (with every effective parameter) at the end.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import torch

from . import allocator, fast_path
from .checkpoint import RunStore
from .metrics import summary_markdown_table, summary_rows, write_metrics
from .parameters import format_parameters, injected_names, load_profiles, resolve
from .paths import checkpoints_root, ensure_writable, metrics_path, run_figures_dir, run_models_dir
from .plots import shows_wall_clock, use_style
from .training import Trainer, device_identity, pick_device, seed_everything


class NotebookRun:
    """Parameters, seed, device, figures, stored runs and metrics of one notebook execution (01)."""

    def __init__(
        self,
        notebook: str,
        parameters: Mapping[str, Any],
        datasets: Mapping[str, str] | None = None,
        device: str | None = None,
    ):
        self.notebook, self.parameters = notebook, dict(parameters)
        self.profile, self.seed = self.parameters["profile"], self.parameters.get("seed", 0)
        self.datasets = dict(datasets or {})
        self.started = time.perf_counter()
        seed_everything(self.seed)
        use_style()
        self.device = pick_device(device)
        self.metrics: dict[str, Any] = {}
        self.figures: list[Path] = []
        self.wall_clock_figures: list[str] = []
        self.trainers: dict[str, Trainer] = {}
        self._fast_path_from = len(fast_path.CHOSEN)  # this run's trainings' fast paths follow

    @property
    def figures_dir(self) -> Path:
        """``runs/<profile>/figures/<notebook>/`` (the report build publishes them to ``figures/``)."""
        return run_figures_dir(self.notebook, self.profile)

    def store(self, name: str) -> RunStore:
        """The stored runs of training ``name``: ``checkpoints/<notebook>/<name>/<fingerprint>.pt``."""
        return RunStore.for_notebook(self.notebook, name)

    def fit(self, model, name: str, train, evaluation=None, epochs: int = 1, eval_name: str = "test", **options: Any):
        """Train ``model`` with a :class:`~helpers.training.Trainer` on this run's device and seed,
        stored as training ``name`` (reused when everything is the same); returns the history.

        Notebooks fix their usual options once, e.g.
        ``fit = functools.partial(run.fit, task="reconstruction", loss="l1")`` (02, 04).
        """
        options = {"seed": self.seed, "device": self.device, "store": self.store(name), "name": name, **options}
        self.trainers[name] = Trainer(epochs=epochs, **options)
        return self.trainers[name].fit(model, train, evaluation, eval_name)

    def stored(self, name: str, config: dict[str, Any], compute):
        """``compute()``'s result, stored like a training under ``checkpoints/<notebook>/<name>/`` and
        reused only when ``config`` (everything that produced it: weights and data fingerprints,
        settings), this run's seed, device and the torch version are all the same (01, 03).

        For results that are not one model but many small trainings (a study's table): the result
        must be JSON-like (lists, dicts, str, numbers), so it loads with ``weights_only=True``.
        """
        config = {
            **config,
            "kind": "result",
            "seed": self.seed,
            **device_identity(self.device),
            "torch": torch.__version__,
            "continuable": False,
        }
        store = self.store(name)
        state = store.load(config)
        if state is not None:
            print(f"{name}: reusing the stored result {store.path(config).name}")
            return state["result"]
        result = compute()
        store.save(config, {"result": result}, 1, 1)
        return result

    def model_path(self, filename: str) -> Path:
        """``runs/<profile>/models/<notebook>/<filename>``: a model file this run hands out (02)."""
        return run_models_dir(self.notebook, self.profile) / filename

    @property
    def metrics_path(self) -> Path:
        """``runs/<profile>/metrics/<notebook>.json`` (or under the runner's ``--out``)."""
        return metrics_path(self.notebook, self.profile)

    def caption(self, dataset_key: str | None = None, extra: str = "") -> str:
        """``'(mnist-10k, default)'``-style suffix naming data set and profile for titles."""
        name = self.datasets.get(dataset_key, dataset_key) if dataset_key else None
        parts = [p for p in (name, self.profile, extra) if p]
        return "(" + ", ".join(parts) + ")"

    def figure(self, fig, name: str, show: bool = True, caption: str | None = None) -> None:
        """Save ``fig`` as ``<figures_dir>/<name>.png`` (listed in ``run.figures``), show it inline
        with its caption (``caption``, else the figure's title) in the output's metadata: the PDF
        numbers it, "Figure N: caption" (``helpers.report``).

        The PNG's bytes depend only on the drawn data (matplotlib writes no date into a PNG); a
        figure of measured seconds (``helpers.plots.mark_wall_clock``) is also listed in the
        metrics under ``wall_clock_figures``, the figures two cold runs may differ in.
        """
        import matplotlib.pyplot as plt

        from .frontend import in_kernel
        from .plots import figure_caption, keep_legends_off_data

        self.figures_dir.mkdir(parents=True, exist_ok=True)
        path = self.figures_dir / f"{name}.png"
        keep_legends_off_data(fig)
        fig.savefig(path)
        self.figures.append(path)
        if shows_wall_clock(fig):
            self.wall_clock_figures.append(path.name)
        if show and in_kernel():
            from IPython.display import display

            display(fig, metadata={"caption": caption or figure_caption(fig)})
        elif show:
            plt.show()
        plt.close(fig)

    def record(self, key: str, **values: Any) -> None:
        """Add headline numbers under ``key`` (an assignment item code such as ``002.P4.2``)."""
        self.metrics.setdefault(key, {}).update(values)

    def verdict(self, key: str, statement) -> str:
        """Record a generated statement's verdict under item ``key`` (``metrics[key]["verdicts"]``) and
        return its sentence for the notebook's Markdown (``helpers.statements``; 01)."""
        verdicts = self.metrics.setdefault(key, {}).setdefault("verdicts", {})
        if statement.key in verdicts:
            raise ValueError(f"{key} already has a verdict named {statement.key!r}: give each statement its own key=")
        verdicts[statement.key] = {**statement.verdict, "sentence": statement.text}
        return statement.text

    def target(self, key: str, statement, limit: str, full: tuple[str, ...] = ()) -> str:
        """A workbook target (a ``helpers.statements.meets`` statement, recorded like :meth:`verdict`)
        as Markdown: the verdict and, when it is missed, ``limit`` (the measured reason this profile
        stops short) and the values that the ``full`` profile gives the parameters ``full`` (02).

        ``full`` is read from the notebook's profile file, so the sentence cannot drift from it.
        """
        text = f"**Target:** {self.verdict(key, statement)}."
        if statement.outcome != "misses":
            return text
        text += f" What holds it back in the `{self.profile}` profile: {limit}"
        if full:
            values = load_profiles(self.notebook)["full"]
            changes = [
                f"`{name} = {values[name]!r}` (here {self.parameters[name]!r})"
                for name in full
                if name in values and values[name] != self.parameters.get(name)
            ]
            if changes:
                text += " The `full` profile sets " + ", ".join(changes) + "."
        return text

    def reproducibility(self) -> dict[str, Any]:
        """What decides this run's bits besides its parameters (README, "Reproducibility"): torch's
        CPU thread count and the vector instruction set its kernels use, the processor, and the
        figures drawn from measured wall-clock seconds (they differ between cold runs); top-level
        keys of the metrics file, beside ``torch`` and ``device`` (01)."""
        return {
            "cpu_threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "processor": fast_path.cpu_name(),
            "wall_clock_figures": sorted(self.wall_clock_figures),
        }

    def finish(self) -> dict[str, Any]:
        """Write the metrics JSON and return it (the last cell of every notebook)."""
        payload = {
            "notebook": self.notebook,
            "profile": self.profile,
            "datasets": self.datasets,
            "seed": self.seed,
            "parameters": self.parameters,
            "wall_time_s": round(time.perf_counter() - self.started, 1),
            "torch": torch.__version__.split("+")[0],
            "device": str(self.device),
            "allocator": allocator.active(),
            "python": platform.python_version(),
            **self.reproducibility(),
            # one entry per training: its fast-path setting (precision, memory format, compiled) and why
            "fast_path": fast_path.CHOSEN[self._fast_path_from :],
            **self.metrics,
        }
        write_metrics(self.metrics_path, payload)
        return payload


def start_notebook(
    notebook: str,
    namespace: MutableMapping[str, Any],
    datasets: Mapping[str, str] | None = None,
    device: str | None = None,
) -> NotebookRun:
    """Resolve and check the parameters into ``namespace`` (the notebook's ``globals()``), then seed,
    pick the device and prepare the output folders (01).

    ``datasets`` maps item codes to parameter names (or literal data set names) for captions and
    the metrics file, e.g. ``{"000": "mnist_dataset"}``.
    """
    explicit = injected_names(namespace.get("In"))
    given = {name: value for name, value in namespace.items() if not name.startswith("_")}
    parameters = resolve(notebook, given, explicit)
    namespace.update(parameters)
    print(f"{notebook}, effective parameters (profile {parameters['profile']}):")
    print(format_parameters(parameters))
    for folder in (
        metrics_path(notebook, parameters["profile"]).parent,
        run_figures_dir(notebook, parameters["profile"]),
        checkpoints_root(),
    ):
        ensure_writable(folder)
    named = {}
    for key, value in (datasets or {}).items():
        value = parameters.get(value, value)
        named[key] = " / ".join(value) if isinstance(value, list) else value
    return NotebookRun(notebook, parameters, named, device)


def summary_table(metrics: dict[str, Any]) -> str:
    """A Markdown table of the headline numbers and verdicts of a metrics dictionary (every notebook's end)."""
    return summary_markdown_table(summary_rows(metrics))
