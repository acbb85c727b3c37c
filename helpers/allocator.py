"""The memory allocator of the notebooks' kernels: tcmalloc where it is installed (issue 22; 01).

PyTorch on CPU frees and re-allocates every activation and gradient of every training step. With
glibc's ``malloc`` many of those blocks go back to the operating system and come back as fresh
pages, so each step pays thousands of page faults. Measured on the 2-core workbook machine (100
training steps, AdamW, channels_last, ``/proc``'s minor-fault count):

=====================================  ==============================  ==========================
model (batch)                          glibc                           tcmalloc (``LD_PRELOAD``)
=====================================  ==============================  ==========================
004.Ex1 residual, width 24 (128)       5,500 faults/step, 33 ms/step   30 faults/step, 24-30 ms
002.P4.2 40-filter CNN (64)            5,900 faults/step, 9.6-11 ms    14 faults/step, 6.6-7.0 ms
=====================================  ==============================  ==========================

(jemalloc in its default configuration was slower than glibc there: 10,000-17,000 faults/step.)
This is the allocator PyTorch's CPU tuning guides recommend. It changes where tensors live, never
what is computed: the same run gives the same numbers with either allocator (tested).

An allocator must be chosen before a process starts, so it cannot be switched from inside a
notebook. The batch runner starts its kernels with :func:`kernel_environment`, and ``make lab``
starts JupyterLab with it, so the kernels it opens inherit it; ``make test`` runs pytest with it.
``WORKBOOK_ALLOCATOR=system`` keeps
the system's allocator. ``tcmalloc`` comes from the Debian/Ubuntu package ``libtcmalloc-minimal4``
(``make system-deps``) or conda-forge's ``gperftools`` (``environment.yml``). Where it is missing,
everything runs with the system allocator, only slower.

    python -m helpers.allocator     # KEY=VALUE lines for env(1): what make lab starts Jupyter with
"""

from __future__ import annotations

import ctypes.util
import os
import sys
from pathlib import Path

LIBRARY = "libtcmalloc_minimal.so.4"
SEARCH_DIRS = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
)
# tcmalloc prints "tcmalloc: large alloc ..." for every allocation above 1 GiB by default; a data
# set in memory is one, and the message is noise in a notebook's output.
QUIET = {"TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD": str(1 << 40)}


def tcmalloc_path() -> Path | None:
    """The installed tcmalloc shared library, or ``None`` (not Linux, or not installed)."""
    if not sys.platform.startswith("linux"):
        return None
    for folder in (Path(sys.prefix) / "lib", *SEARCH_DIRS):  # a conda environment's own (gperftools) first
        candidate = Path(folder) / LIBRARY
        if candidate.exists():
            return candidate
    found = ctypes.util.find_library("tcmalloc_minimal")
    return Path(found) if found and Path(found).is_absolute() else None


def active() -> str:
    """The allocator of this process: ``"tcmalloc"`` when it is loaded, else ``"system"``."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return "system"
    return "tcmalloc" if "libtcmalloc" in maps else "system"


def kernel_environment() -> dict[str, str]:
    """Environment variables that start a child process (a notebook's kernel) with tcmalloc.

    Empty where tcmalloc is not installed or ``WORKBOOK_ALLOCATOR=system`` asks for the system's.
    An ``LD_PRELOAD`` already set is kept, after tcmalloc."""
    if os.environ.get("WORKBOOK_ALLOCATOR", "tcmalloc") == "system":
        return {}
    path = tcmalloc_path()
    if path is None:
        return {}
    preload = [p for p in os.environ.get("LD_PRELOAD", "").split() if p and "libtcmalloc" not in p]
    return {"LD_PRELOAD": " ".join([str(path), *preload]), **QUIET}


def main() -> int:
    for key, value in kernel_environment().items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
