"""The batch runner: notebooks headlessly with papermill, in a profile, then the report (all notebooks).

    python -m helpers.runner                          # every notebook, profile default, the report
    python -m helpers.runner 01_cnn_classifier --profile smoke --no-report
    python -m helpers.runner 02_autoencoders -p ae_epochs=3 -p seed=1 --no-report

The runner passes ``profile`` and the ``-p`` values to papermill and nothing else: the notebook's
setup call resolves the profile itself (``helpers.parameters``), exactly as it does in JupyterLab
or under plain papermill, so every way of running gives the same workload. Before starting a
kernel the runner checks the parameters (names, types, ranges), that the ``.ipynb`` matches its
jupytext ``.py`` source and that the output folders are writable. Outputs follow
``helpers.paths``; the committed ``figures/`` are refreshed only by the default report build (the
default profile, no ``-p``, no ``--out``, with the report: ``make report``).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import allocator
from .metrics import read_metrics
from .parameters import ParameterError, check_names, declared_defaults, resolve
from .paths import (
    PROFILES,
    REPO_ROOT,
    LayoutError,
    checkpoints_root,
    ensure_writable,
    notebooks_dir,
    output_dir,
    published_figures_dir,
)
from .paths import environment as paths_environment

KERNEL_NAME = "python3"
PATH_VARIABLES = ("WORKBOOK_DATA", "WORKBOOK_CHECKPOINTS", "WORKBOOK_OUTPUT")


class RunError(RuntimeError):
    """A notebook could not be run, or one of its cells failed; the message names which."""


@dataclass
class NotebookResult:
    """What one executed notebook left behind."""

    name: str
    executed: Path
    metrics_path: Path
    seconds: float

    @property
    def metrics(self) -> dict[str, Any]:
        """The notebook's metrics JSON."""
        return read_metrics(self.metrics_path)


def available_notebooks() -> list[str]:
    """Names (without suffix) of the notebooks in ``notebooks/``, in order."""
    return sorted(p.stem for p in notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` from the command line, the value read as a Python literal when it is one."""
    if "=" not in text:
        raise RunError(f"parameter {text!r} must look like key=value")
    key, value = text.split("=", 1)
    try:
        return key.strip(), ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key.strip(), value


def check_source_in_sync(notebook: str) -> None:
    """Refuse an ``.ipynb`` whose cells differ from its jupytext ``.py`` source (edited, not synced)."""
    import jupytext

    source, paired = notebooks_dir() / f"{notebook}.py", notebooks_dir() / f"{notebook}.ipynb"
    if not source.exists():
        return

    def cells(path: Path) -> list[tuple[str, str]]:
        return [(c.cell_type, c.source.strip()) for c in jupytext.read(path).cells]

    if cells(source) != cells(paired):
        newer = source if source.stat().st_mtime >= paired.stat().st_mtime else paired
        shown = source.relative_to(REPO_ROOT) if source.is_relative_to(REPO_ROOT) else source
        raise RunError(
            f"{paired.name} and {source.name} differ ({newer.name} was edited last); sync "
            f"them first: jupytext --sync {shown}"
        )


def check_parameters(notebook: str, profile: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The effective parameters the notebook will resolve, checked here before any kernel starts."""
    import papermill

    try:
        defaults = declared_defaults(notebook)
        cell = papermill.inspect_notebook(str(notebooks_dir() / f"{notebook}.ipynb"))
        if set(cell) != set(defaults):
            raise RunError(
                f"{notebook}: the parameters cell declares {sorted(cell)} but "
                f"profiles/{notebook}.toml [default] has {sorted(set(defaults) - {'profile'})}; "
                "make them the same"
            )
        check_names(notebook, overrides, defaults)
        return resolve(notebook, {**defaults, "profile": profile, **overrides}, set(overrides) | {"profile"})
    except ParameterError as error:
        raise RunError(str(error)) from None


def _absolute_path_variables() -> dict[str, str]:
    """The layout's path variables made absolute against the folder the command was run from."""
    return {key: str(Path(os.environ[key]).expanduser().resolve()) for key in PATH_VARIABLES if os.environ.get(key)}


def execute(
    notebook: str, profile: str = "default", overrides: dict[str, Any] | None = None, out_dir: Path | None = None
) -> NotebookResult:
    """Execute one notebook with papermill in ``profile``; raise ``RunError`` naming a failing cell."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = notebooks_dir() / f"{notebook}.ipynb"
    if not source.exists():
        raise RunError(f"no notebook {source}; available: {', '.join(available_notebooks())}")
    if profile not in PROFILES:
        raise RunError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
    overrides = dict(overrides or {})
    check_source_in_sync(notebook)
    check_parameters(notebook, profile, overrides)
    environment = {
        **_absolute_path_variables(),
        "WORKBOOK_PROGRESS": os.environ.get("WORKBOOK_PROGRESS", "stderr"),
        "PWD": os.getcwd(),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        **allocator.kernel_environment(),  # tcmalloc where installed: fewer page faults per step
    }
    if out_dir:
        environment["WORKBOOK_OUTPUT"] = str(Path(out_dir).resolve())
    try:
        with paths_environment(**environment):
            out = output_dir(profile)
            for folder in (out, checkpoints_root()):
                ensure_writable(folder)
            executed = out / "notebooks" / f"{notebook}.ipynb"
            executed.parent.mkdir(parents=True, exist_ok=True)
            parameters = {"profile": profile, **overrides}
            started = time.perf_counter()
            print(
                f"[{notebook}] profile {profile}: running ({', '.join(f'{k}={v!r}' for k, v in parameters.items())})",
                flush=True,
            )
            papermill.execute_notebook(
                str(source),
                str(executed),
                parameters=parameters,
                kernel_name=KERNEL_NAME,
                cwd=str(notebooks_dir()),
                progress_bar=False,
                log_output=False,
            )
            metrics_path = out / "metrics" / f"{notebook}.json"
    except PapermillExecutionError as error:
        raise RunError(
            f"{notebook}: cell {error.exec_count} (index {error.cell_index}) failed with "
            f"{error.ename}: {error.evalue}. The executed notebook with the error is "
            f"kept at {executed}"
        ) from None
    except LayoutError as error:
        raise RunError(str(error)) from None
    seconds = time.perf_counter() - started
    if not metrics_path.exists():
        raise RunError(
            f"{notebook}: ran but wrote no metrics file {metrics_path} (its last cell must call run.finish())"
        )
    print(f"[{notebook}] done in {seconds:.0f} s -> {executed}", flush=True)
    return NotebookResult(notebook, executed, metrics_path, seconds)


def publish_figures(result: NotebookResult) -> Path:
    """Replace ``figures/<notebook>/`` with the figures of this (default report) run."""
    source = result.metrics_path.parent.parent / "figures" / result.name
    target = published_figures_dir(result.name)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    return target


def interruption_note(notebook: str, since: float) -> str:
    """One line for Ctrl-C: which stored run got how far, and how to resume."""
    latest = None
    for sidecar in (checkpoints_root() / notebook).glob("*/*.json"):
        try:
            info = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            continue
        if info.get("updated", 0) >= since and (latest is None or info["updated"] > latest["updated"]):
            latest = info
    where = (
        f"; {latest['name']} is stored after epoch {latest['epochs_done']} of {latest['epochs']}"
        if latest
        else "; no epoch had finished"
    )
    return f"interrupted in {notebook}{where}. Rerun the same command to resume from the stored epochs."


def _stop_kernels_on_ctrl_c() -> None:
    """On Ctrl-C, end the kernels at once (they run in their own session and would otherwise print
    a ZMQ traceback while papermill shuts them down), then interrupt the runner."""
    import psutil

    def handler(signum, frame):
        for child in psutil.Process().children(recursive=True):
            try:
                child.kill()
            except psutil.Error:
                pass
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run notebooks in a profile, then build the report."""
    parser = argparse.ArgumentParser(prog="python -m helpers.runner", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebook names (default: all)")
    parser.add_argument("--profile", default="default", choices=PROFILES)
    parser.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set one parameter (repeatable); wins over the profile's value",
    )
    parser.add_argument("--out", type=Path, help="output folder (default runs/<profile>)")
    parser.add_argument("--no-report", action="store_true", help="skip the PDF/HTML report")
    args = parser.parse_args(argv)
    names = args.notebooks or available_notebooks()
    current, started = None, time.time()
    try:
        overrides = dict(parse_override(p) for p in args.parameter)
        missing = [n for n in names if n not in available_notebooks()]
        if missing:
            raise RunError(f"unknown notebook(s) {missing}; available: {', '.join(available_notebooks())}")
        for name in names:  # every check before the first notebook runs
            check_source_in_sync(name)
            check_parameters(name, args.profile, overrides)
        results = []
        _stop_kernels_on_ctrl_c()
        for name in names:
            current = name
            results.append(execute(name, args.profile, overrides, args.out))
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "\n" + (interruption_note(current, started) if current else "interrupted before any notebook ran"),
            file=sys.stderr,
        )
        return 130
    total = sum(r.seconds for r in results)
    print(f"ran {len(results)} notebook(s) in {total:.0f} s (profile {args.profile})")
    if not args.no_report:
        from .report import build_report

        out_dir = args.out.resolve() if args.out else output_dir(args.profile)
        for path in build_report([r.executed for r in results], out_dir / "report", args.profile):
            print(f"report: {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}")
        left_out = [n for n in available_notebooks() if n not in names]
        if left_out:
            print(
                f"note: the combined report holds only this run's notebook(s) ({', '.join(names)}), not "
                f"{', '.join(left_out)}; run the runner without names (make report) for the whole workbook"
            )
        if args.profile == "default" and not overrides and not args.out:
            for result in results:
                print(f"figures: {publish_figures(result).relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
