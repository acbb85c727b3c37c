"""Run the notebooks headlessly with papermill, in a profile, and build the report (all notebooks).

    python -m helpers.run                          # every notebook, profile default, then the report
    python -m helpers.run --profile smoke 01_cnn_classifier
    python -m helpers.run 02_autoencoders -p epochs=3 -p seed=1 --no-report

Profile values come from ``notebooks/profiles/<notebook>.toml`` (sections ``[smoke]``,
``[default]``, ``[full]``), are checked against the notebook's ``parameters`` cell, and are
injected by papermill. Executed notebooks go to ``runs/<profile>/notebooks/``, metrics JSON to
``runs/<profile>/metrics/``, figures to ``figures/`` (``default``) or ``runs/<profile>/figures/``.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .metrics import read_metrics
from .notebook import PROFILES
from .paths import REPO_ROOT, notebooks_dir, output_dir

KERNEL_NAME = "python3"


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


def profile_parameters(notebook: str, profile: str) -> dict[str, Any]:
    """The parameter values of ``profile`` for ``notebook`` from its profiles TOML file."""
    if profile not in PROFILES:
        raise RunError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
    path = notebooks_dir() / "profiles" / f"{notebook}.toml"
    table = tomllib.loads(path.read_text()) if path.exists() else {}
    unknown = set(table) - set(PROFILES)
    if unknown:
        raise RunError(f"{path}: unknown profile section(s) {sorted(unknown)}; use {', '.join(PROFILES)}")
    return {"profile": profile, **table.get(profile, {})}


def notebook_parameters(notebook: str) -> dict[str, Any]:
    """The names and default values of the notebook's ``parameters`` cell."""
    import papermill

    path = notebooks_dir() / f"{notebook}.ipynb"
    found = papermill.inspect_notebook(str(path))
    return {name: info.get("default") for name, info in found.items()}


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` from the command line, the value read as a Python literal when it is one."""
    if "=" not in text:
        raise RunError(f"parameter {text!r} must look like key=value")
    key, value = text.split("=", 1)
    try:
        return key.strip(), ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key.strip(), value


def execute(notebook: str, profile: str = "default", overrides: dict[str, Any] | None = None,
            out_dir: Path | None = None) -> NotebookResult:
    """Execute one notebook with papermill in ``profile``; raise ``RunError`` naming a failing cell."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = notebooks_dir() / f"{notebook}.ipynb"
    if not source.exists():
        raise RunError(f"no notebook {source}; available: {', '.join(available_notebooks())}")
    parameters = {**profile_parameters(notebook, profile), **(overrides or {})}
    declared = notebook_parameters(notebook)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise RunError(f"{notebook}: unknown parameter(s) {unknown}; its parameters cell declares "
                       f"{', '.join(declared)}")
    out_dir = Path(out_dir).resolve() if out_dir else output_dir(profile)
    executed = out_dir / "notebooks" / f"{notebook}.ipynb"
    executed.parent.mkdir(parents=True, exist_ok=True)
    environment = {"WORKBOOK_OUTPUT": str(out_dir), "WORKBOOK_PROGRESS": "stderr",
                   "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    if profile != "default" and "WORKBOOK_FIGURES" not in os.environ:
        environment["WORKBOOK_FIGURES"] = str(out_dir / "figures")
    saved = {key: os.environ.get(key) for key in environment}
    os.environ.update(environment)
    started = time.perf_counter()
    print(f"[{notebook}] profile {profile}: running ({', '.join(f'{k}={v!r}' for k, v in parameters.items())})",
          flush=True)
    try:
        papermill.execute_notebook(str(source), str(executed), parameters=parameters,
                                   kernel_name=KERNEL_NAME, cwd=str(notebooks_dir()),
                                   progress_bar=False, log_output=False)
    except PapermillExecutionError as error:
        raise RunError(f"{notebook}: cell {error.exec_count} (index {error.cell_index}) failed with "
                       f"{error.ename}: {error.evalue}. The executed notebook with the error is "
                       f"kept at {executed}") from None
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    seconds = time.perf_counter() - started
    metrics_path = out_dir / "metrics" / f"{notebook}.json"
    if not metrics_path.exists():
        raise RunError(f"{notebook}: ran but wrote no metrics file {metrics_path} (its last cell "
                       "must call run.finish())")
    print(f"[{notebook}] done in {seconds:.0f} s -> {executed}", flush=True)
    return NotebookResult(notebook, executed, metrics_path, seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run notebooks in a profile, then build the report."""
    parser = argparse.ArgumentParser(prog="python -m helpers.run", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebook names (default: all)")
    parser.add_argument("--profile", default="default", choices=PROFILES)
    parser.add_argument("-p", "--parameter", action="append", default=[], metavar="KEY=VALUE",
                        help="override one parameter (repeatable)")
    parser.add_argument("--out", type=Path, help="output folder (default runs/<profile>)")
    parser.add_argument("--no-report", action="store_true", help="skip the PDF/HTML report")
    args = parser.parse_args(argv)
    names = args.notebooks or available_notebooks()
    try:
        overrides = dict(parse_override(p) for p in args.parameter)
        missing = [n for n in names if n not in available_notebooks()]
        if missing:
            raise RunError(f"unknown notebook(s) {missing}; available: {', '.join(available_notebooks())}")
        results = [execute(name, args.profile, overrides, args.out) for name in names]
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    total = sum(r.seconds for r in results)
    print(f"ran {len(results)} notebook(s) in {total:.0f} s (profile {args.profile})")
    if not args.no_report:
        from .report import build_report

        out_dir = args.out.resolve() if args.out else output_dir(args.profile)
        for path in build_report([r.executed for r in results], out_dir / "report", args.profile):
            print(f"report: {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
