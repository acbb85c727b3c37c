"""The kernels' allocator (issue 22): tcmalloc is preloaded where installed and can be switched off.
That it changes no number or figure byte of a run: tests/test_reproducibility.py (its two cold runs
use the two allocators)."""

from __future__ import annotations

import os

import pytest

from helpers import allocator


def test_system_choice_preloads_nothing(monkeypatch):
    monkeypatch.setenv("WORKBOOK_ALLOCATOR", "system")
    assert allocator.kernel_environment() == {}


def test_missing_tcmalloc_preloads_nothing(monkeypatch):
    monkeypatch.delenv("WORKBOOK_ALLOCATOR", raising=False)
    monkeypatch.setattr(allocator, "tcmalloc_path", lambda: None)
    assert allocator.kernel_environment() == {}


def test_preload_keeps_another_library(monkeypatch, tmp_path):
    library = tmp_path / allocator.LIBRARY
    library.write_bytes(b"")
    monkeypatch.delenv("WORKBOOK_ALLOCATOR", raising=False)
    monkeypatch.setattr(allocator, "tcmalloc_path", lambda: library)
    monkeypatch.setenv("LD_PRELOAD", "/opt/other.so")
    env = allocator.kernel_environment()
    assert env["LD_PRELOAD"] == f"{library} /opt/other.so"
    assert int(env["TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD"]) >= 1 << 30


def test_tcmalloc_is_installed_in_ci():
    """``make system-deps`` installs libtcmalloc-minimal4; CI runs it, so there it must be found."""
    if not os.environ.get("CI") and allocator.tcmalloc_path() is None:
        pytest.skip("tcmalloc is not installed here (make system-deps installs it)")
    assert allocator.tcmalloc_path() is not None
