"""Time of the report, cold (no stored runs) and warm (every stored run reused), per notebook.

    .venv/bin/python benchmarks/report_time.py [--profile default] [--notebooks 01_cnn_classifier ...]
                                               [--keep] [--report]
    .venv/bin/python benchmarks/report_time.py --publish      # the final `make report` run, timed
    .venv/bin/python benchmarks/report_time.py --compare REF [--report] [--profile default] [--notebooks ...]

Each notebook runs through the real runner (``python -m helpers.runner NAME --profile P --out TMP
--no-report``) as a child process, with ``WORKBOOK_CHECKPOINTS`` and ``--out`` pointing into a fresh
temporary folder, so nothing stored under ``checkpoints/`` or ``runs/`` is used or touched. The cold
pass trains everything; the warm pass runs the same commands again on the runs the cold pass stored.
Printed per notebook: wall seconds and CPU seconds (user + system of the runner and its kernel,
from ``resource.getrusage(RUSAGE_CHILDREN)``), cold and warm, and the totals. ``--report`` also
times the PDF/HTML build after the cold pass. Issue 17's budget (2 idle CPU cores, profile
default): cold <= 20 min, warm <= 3 min; time only on an otherwise idle machine.

``--publish`` times what ``make report`` runs instead: one ``python -m helpers.runner`` (profile
default, every notebook, the report, and the figures published to ``figures/``) with a fresh
temporary ``WORKBOOK_CHECKPOINTS``, then the same command again with ``--no-report`` on the stored
runs (the warm rerun). Per-notebook wall seconds come from the runner's ``done in`` lines; CPU
seconds are only known for the whole command there.

``--compare REF`` times this worktree against the commit ``REF`` (any git revision, e.g. ``main`` or
a hash) on the same machine in one go: ``REF`` is checked out with ``git worktree add --detach``
into a temporary folder, and each notebook runs cold (a fresh ``WORKBOOK_CHECKPOINTS`` per tree,
``--no-report``), this worktree's first, then ``REF``'s, notebook by notebook so that both see the
same load. Each child gets ``PYTHONPATH`` of its own tree, so its kernel imports that tree's
``helpers``. With ``--report``, each tree then builds the report of its own executed notebooks
(what ``make report`` does after the notebooks). Printed per notebook (and for the report build):
seconds new, seconds old and the new/old ratio.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers.paths import PROFILES  # noqa: E402
from helpers.runner import available_notebooks  # noqa: E402


def timed(command: list[str], environment: dict[str, str], cwd: Path = ROOT) -> tuple[float, float]:
    """Run ``command`` in ``cwd`` to completion; its wall seconds and the CPU seconds of it and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, env=environment)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode:
        raise SystemExit(f"failed (exit {completed.returncode}): {' '.join(command)}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def timed_runner(command: list[str], environment: dict[str, str]) -> tuple[float, float, dict[str, float]]:
    """Like :func:`timed` for the runner, echoing its output; also each notebook's ``done in`` seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    seconds = {}
    with subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        for line in process.stdout:
            print(line, end="", flush=True)
            done = re.match(r"\[(\S+)\] done in (\d+) s", line)
            if done:
                seconds[done[1]] = float(done[2])
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode:
        raise SystemExit(f"failed (exit {process.returncode}): {' '.join(command)}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), seconds


def publish(names: list[str], folder: Path, environment: dict[str, str]) -> None:
    """``--publish``: the report build of ``make report`` cold, then its notebooks warm; a table."""
    command = [sys.executable, "-m", "helpers.runner", *names, "--profile", "default"]
    print("--- cold: " + " ".join(command[1:]), flush=True)
    cold_wall, cold_cpu, cold = timed_runner(command, environment)
    print("--- warm: the same with --no-report", flush=True)
    warm_wall, warm_cpu, warm = timed_runner([*command, "--no-report"], environment)
    load = os.getloadavg()
    print(
        f"\nprofile default (make report), {os.cpu_count()} CPUs, load average now "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (time only on an idle machine)"
    )
    print(f"{'notebook':<24}{'cold wall s':>12}{'warm wall s':>12}")
    for name in names:
        print(f"{name:<24}{cold.get(name, float('nan')):>12.0f}{warm.get(name, float('nan')):>12.0f}")
    print(
        f"{'report build + checks':<24}{cold_wall - sum(cold.values()):>12.0f}{warm_wall - sum(warm.values()):>12.0f}"
    )
    print(f"{'total (wall)':<24}{cold_wall:>12.0f}{warm_wall:>12.0f}")
    print(f"{'total (CPU)':<24}{cold_cpu:>12.0f}{warm_cpu:>12.0f}")
    print(f"cold {cold_wall / 60:.1f} min (budget 20), warm {warm_wall / 60:.1f} min (budget 3)")
    print(f"stored runs of this build: {folder / 'checkpoints'} (delete when done)")


def checkout(ref: str, folder: Path) -> Path:
    """``git worktree add --detach folder ref`` of this repository; the folder."""
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), ref], cwd=ROOT, check=True)
    return folder


def report_build(out: Path, profile: str, names: list[str]) -> list[str]:
    """The command that builds the report (PDFs, or HTML) of the executed notebooks under ``out``."""
    return [
        sys.executable,
        "-c",
        "import sys; from pathlib import Path; from helpers.report import build_report; "
        "build_report([Path(p) for p in sys.argv[3:]], Path(sys.argv[1]), sys.argv[2])",
        str(out / "report"),
        profile,
        *[str(out / "notebooks" / f"{n}.ipynb") for n in names],
    ]


def compare(
    ref: str, names: list[str], profile: str, folder: Path, environment: dict[str, str], report: bool = False
) -> list[tuple]:
    """``--compare``: cold runs of each notebook in this worktree and in ``ref``; rows (name, new s, old s);
    with ``report``, a last row: each tree's report build of its own executed notebooks."""
    trees = {"new": ROOT, "old": checkout(ref, folder / "ref")}
    rows = []
    try:
        for name in names:
            seconds = {}
            for which, tree in trees.items():
                command = [
                    sys.executable,
                    "-m",
                    "helpers.runner",
                    name,
                    "--profile",
                    profile,
                    "--out",
                    str(folder / which / "out"),
                    "--no-report",
                ]
                env = {
                    **environment,
                    "WORKBOOK_CHECKPOINTS": str(folder / which / "checkpoints"),
                    "PYTHONPATH": str(tree),
                }
                print(f"--- {name}: {which} ({tree}), cold", flush=True)
                seconds[which] = timed(command, env, cwd=tree)[0]
            rows.append((name, seconds["new"], seconds["old"]))
            print(f"--- {name}: new {seconds['new']:.1f} s, old {seconds['old']:.1f} s", flush=True)
        if report:
            seconds = {}
            for which, tree in trees.items():
                print(f"--- report build: {which} ({tree})", flush=True)
                env = {**environment, "PYTHONPATH": str(tree)}
                seconds[which] = timed(report_build(folder / which / "out", profile, names), env, cwd=tree)[0]
            rows.append(("report build", seconds["new"], seconds["old"]))
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(trees["old"])], cwd=ROOT, check=False)
    return rows


def compare_table(ref: str, profile: str, rows: list[tuple]) -> str:
    """The ``--compare`` table: per notebook seconds of this worktree and of ``ref``, and their ratio."""
    load = os.getloadavg()
    lines = [
        f"profile {profile}, cold, this worktree (new) against {ref} (old), {os.cpu_count()} CPUs, "
        f"load average now {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        f"{'notebook':<24}{'new s':>10}{'old s':>10}{'new/old':>9}",
    ]
    for name, new, old in rows:
        lines.append(f"{name:<24}{new:>10.1f}{old:>10.1f}{new / old:>9.2f}")
    new, old = sum(r[1] for r in rows), sum(r[2] for r in rows)
    lines.append(f"{'total':<24}{new:>10.1f}{old:>10.1f}{new / old:>9.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="default", choices=PROFILES)
    parser.add_argument("--notebooks", nargs="*", default=None, help="default: every notebook")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print it")
    parser.add_argument("--report", action="store_true", help="also time the PDF/HTML report build")
    parser.add_argument(
        "--publish",
        action="store_true",
        help="time make report's own build (publishes figures/), cold then warm; profile default only",
    )
    parser.add_argument(
        "--compare",
        metavar="REF",
        help="time this worktree's and commit REF's cold runs one after the other; print new/old per notebook",
    )
    args = parser.parse_args(argv)
    if args.compare and args.publish:
        parser.error("--compare and --publish are separate timings; choose one")
    if args.publish and args.profile != "default":
        parser.error("--publish times the default report build; leave --profile at default")
    names = args.notebooks or available_notebooks()
    unknown = [n for n in names if n not in available_notebooks()]
    if unknown:
        parser.error(f"unknown notebook(s) {unknown}; available: {', '.join(available_notebooks())}")

    folder = Path(tempfile.mkdtemp(prefix="report_time_"))
    environment = {
        **os.environ,
        "WORKBOOK_CHECKPOINTS": str(folder / "checkpoints"),
        "WORKBOOK_PROGRESS": os.environ.get("WORKBOOK_PROGRESS", "off"),
    }
    if args.publish:
        publish(names, folder, environment)
        return 0
    if args.compare:
        try:
            rows = compare(args.compare, names, args.profile, folder, environment, args.report)
            print()
            print(compare_table(args.compare, args.profile, rows))
        finally:
            if args.keep:
                print(f"outputs kept in {folder}")
            else:
                import shutil

                shutil.rmtree(folder, ignore_errors=True)
        return 0
    out = folder / "out"
    rows = {}
    for name in names:
        command = [
            sys.executable,
            "-m",
            "helpers.runner",
            name,
            "--profile",
            args.profile,
            "--out",
            str(out),
            "--no-report",
        ]
        print(f"--- {name}: cold", flush=True)
        cold = timed(command, environment)
        print(f"--- {name}: warm", flush=True)
        warm = timed(command, environment)
        rows[name] = (*cold, *warm)
    if args.report:
        rows["report build"] = (*timed(report_build(out, args.profile, names), environment), float("nan"), float("nan"))

    load = os.getloadavg()
    print(
        f"\nprofile {args.profile}, {os.cpu_count()} CPUs, load average now "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (time only on an idle machine)"
    )
    print(f"{'notebook':<24}{'cold wall s':>12}{'cold CPU s':>12}{'warm wall s':>12}{'warm CPU s':>12}")
    for name, (cold_wall, cold_cpu, warm_wall, warm_cpu) in rows.items():
        print(f"{name:<24}{cold_wall:>12.1f}{cold_cpu:>12.1f}{warm_wall:>12.1f}{warm_cpu:>12.1f}")
    totals = [sum(v[i] for k, v in rows.items() if k != "report build" or i < 2) for i in range(4)]
    print(f"{'total':<24}{totals[0]:>12.1f}{totals[1]:>12.1f}{totals[2]:>12.1f}{totals[3]:>12.1f}")
    print(f"cold {totals[0] / 60:.1f} min (budget 20), warm {totals[2] / 60:.1f} min (budget 3)")
    if args.keep:
        print(f"stored runs and outputs kept in {folder}")
    else:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
