"""Who is watching: a live JupyterLab frontend, a batch run, or a terminal (introduced in 01).

Progress bars (``helpers.training.progress``) and the explorers (``helpers.explorers``) ask
:func:`live_frontend` whether widgets can be drawn. Only a kernel that JupyterLab (or Jupyter
Server) started for an open notebook has one; papermill, ``jupyter nbconvert --execute`` and the
workbook's runner do not, and there the same cells write static output instead.
"""

from __future__ import annotations

import os
import sys

_ON, _OFF = ("1", "on", "true", "yes"), ("0", "off", "false", "no")


def in_kernel() -> bool:
    """True inside an IPython kernel (a notebook, papermill, nbconvert), not a plain interpreter (01)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def live_frontend() -> bool:
    """True when widgets will be rendered: a kernel that Jupyter Server started for a notebook (01).

    Jupyter Server gives the kernels it starts for a notebook session ``JPY_SESSION_NAME``;
    papermill and nbconvert start theirs with ``jupyter_client`` directly, without it. The
    workbook's runner also sets ``WORKBOOK_PROGRESS=stderr``, which always means batch.
    ``WORKBOOK_WIDGETS=on|off`` overrides the guess (e.g. for other widget-capable frontends).
    """
    forced = os.environ.get("WORKBOOK_WIDGETS", "").strip().lower()
    if forced in _ON + _OFF:
        return forced in _ON
    if forced:
        raise ValueError(f"WORKBOOK_WIDGETS={forced!r}: use 'on' or 'off' (or leave it unset)")
    if os.environ.get("WORKBOOK_PROGRESS") == "stderr":
        return False
    return in_kernel() and bool(os.environ.get("JPY_SESSION_NAME"))


def console_line(text: str) -> None:
    """Write one line to the process's console, never into the notebook's outputs (01).

    In a kernel, ``sys.stderr`` is ipykernel's stream, whose ``fileno()`` is a copy of the
    kernel's original stderr: the console of papermill or of the runner, outside the notebook.
    """
    data = (text.rstrip("\n") + "\n").encode("utf-8", "replace")
    try:
        os.write(sys.stderr.fileno(), data)
    except (AttributeError, OSError, ValueError):
        try:
            os.write(2, data)
        except OSError:
            pass
