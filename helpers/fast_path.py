"""The fast path of the training loops: precision, memory format and ``torch.compile``, chosen by
measurement (introduced in 01; used by ``helpers.training.Trainer`` in 01-05 and ``helpers.gan_training``
in 05).

A :class:`Setting` is one way to run the same training: ``fp32`` or ``bf16`` autocast, contiguous or
``channels_last`` tensors, eager or ``torch.compile``. ``fast_path="fp32"`` is plain fp32 eager (the
exact reproduction of runs made before the fast path existed); ``fast_path="auto"`` picks, per model,
the setting that finishes the planned run soonest, from a short timed probe of a few training steps
per candidate on copies of the model (:func:`choose`):

- ``bf16`` is a candidate only where the hardware computes it natively (a CPU with AVX-512 BF16 or
  AMX, a CUDA GPU with bf16), for every task (classifiers, autoencoders and the GAN: autocast runs
  the convolutions and matrix products in bf16 while the losses, the gradients' accumulation into
  the fp32 weights and the optimizers stay fp32), and only when its loss on the probe's first
  batch, from the same weights, is within :data:`BF16_LOSS_TOLERANCE` of fp32's and its losses
  over the probe's steps stay within :data:`BF16_DRIFT_TOLERANCE` (later steps drift apart for any
  change of arithmetic, even fp32 ``channels_last`` by ~0.5%, so this only catches a bf16 run that
  goes astray). Whether a model's results hold in the chosen setting is judged by the notebooks'
  own result targets (``Target:`` lines) and measured by ``benchmarks/cpu_fast_path.py --results``.
- ``channels_last`` only for models that take 4-D images.
- the optimizer's fused kernel (``fused=True``: one kernel per step for all parameters instead of a
  Python loop of small ones) wherever the optimizer has one on the device (Adam, AdamW and SGD, on
  CPU and CUDA): it is not probed but used for every candidate alike, since it was faster per step
  for every model it was measured on (02's conv AEs 6-8%, its MLP AE 32%, 01's 40-filter CNN 5%).
- ``torch.compile`` only where its compile time, measured by the probe and counted in full, is
  repaid by the planned number of steps; compile is only probed when the run is long enough that
  it could be: on CPU when :data:`CPU_COMPILE_GAIN` of the eager run would repay the compile probe
  and one compile (:data:`CPU_COMPILE_PROBE_S`), on CUDA when half of it would repay two compiles of
  :data:`COMPILE_FLOOR_S`.
- A run shorter than :data:`MIN_PROBE_STEPS` steps is not probed: it stays fp32 eager (the smoke
  profile and the tests run exactly as before).

The probe's measurements are stored under ``<checkpoints>/_fast_path/<key>.json``, keyed by the
architecture, the batch shape, the task, the optimizer, the device (CPU model and flags, thread
count) and the torch version, and the choice is a fixed function of them and of the planned number
of steps, so a rerun on the same machine picks the same setting (and finds its stored runs) without
probing again. The chosen setting is recorded in the training's history (``history.meta``), in the
notebook's metrics (``"fast_path"``) and is part of every stored run's fingerprint
(:meth:`Setting.identity`), so an fp32 run is never served for a bf16 request or the other way round.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import shutil
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import allocator

PRECISIONS = ("fp32", "bf16")
MEMORY_FORMATS = ("contiguous", "channels_last")
MODES = ("auto", "fp32")  # besides an explicit label such as "bf16+channels_last+compiled"
ENVIRONMENT = "WORKBOOK_FAST_PATH"  # the default of every training's fast_path (e.g. "fp32": exact reproduction)

MIN_PROBE_STEPS = 150  # shorter runs stay fp32 eager: a probe (~10 steps per candidate) would not pay
COMPILE_FLOOR_S = 30.0  # a typical compile: on CUDA probed only when half the eager run could repay 2 of them
# On CPU, compile saved at most 10% per step over the best eager setting for this workbook's models
# (004.Ex1 residual, bf16: 14.7 against 16.4 ms, measured by the probe of a default run on 2 cores),
# while the compile probe itself cost 27 s (two compiles and a second fp32 round): it is only probed
# when that saving, rounded up to 15%, of the eager run would repay the probe and one compile.
CPU_COMPILE_GAIN = 0.15
CPU_COMPILE_PROBE_S = 45.0
PROBE_STEPS = 4  # timed steps per candidate and round (after 2 warm-up steps)
PROBE_ROUNDS = 2  # the timed steps are taken in this many interleaved rounds, the median kept
BF16_LOSS_TOLERANCE = 0.01  # bf16's loss on the first batch (same weights): within 1% (relative) of fp32's
BF16_DRIFT_TOLERANCE = 0.05  # and over the probe's steps within 5% (fp32 reorderings alone drift ~0.5%)
SIMPLER_MARGIN = 0.05  # a setting with one feature fewer is kept unless the other saves 5% more
PROBE_VERSION = 3  # bump when the probe's procedure changes (old cached probes are then ignored)


def default_mode() -> str:
    """``$WORKBOOK_FAST_PATH`` or ``"auto"``: the fast path of a training that names none (01)."""
    return os.environ.get(ENVIRONMENT, "auto") or "auto"


# every training's chosen setting in this process (a notebook kernel): name -> record (metrics)
CHOSEN: list[dict[str, Any]] = []


@dataclass(frozen=True)
class Setting:
    """One way to run a training: ``precision`` (fp32, bf16 autocast), ``memory_format``, ``compiled``
    and ``fused_optimizer`` (the optimizer's one-kernel step, where it has one)."""

    precision: str = "fp32"
    memory_format: str = "contiguous"
    compiled: bool = False
    fused_optimizer: bool = False

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        if self.memory_format not in MEMORY_FORMATS:
            raise ValueError(f"unknown memory format {self.memory_format!r}; choose one of {', '.join(MEMORY_FORMATS)}")

    @property
    def label(self) -> str:
        """``"fp32"``, ``"bf16+channels_last"``, ``"fp32+channels_last+compiled+fused"``, ..."""
        parts = [self.precision]
        if self.memory_format != "contiguous":
            parts.append(self.memory_format)
        if self.compiled:
            parts.append("compiled")
        if self.fused_optimizer:
            parts.append("fused")
        return "+".join(parts)

    @property
    def features(self) -> int:
        """How many departures from fp32 eager contiguous (ties go to the simpler setting)."""
        return (self.precision != "fp32") + (self.memory_format != "contiguous") + self.compiled + self.fused_optimizer

    @classmethod
    def parse(cls, text: str) -> Setting:
        """The setting of a label (``"fp32"``, ``"bf16+channels_last"``, ``"fp32+compiled+fused"``)."""
        parts = str(text).split("+")
        unknown = [p for p in parts[1:] if p not in ("channels_last", "compiled", "fused")]
        if parts[0] not in PRECISIONS or unknown or len(set(parts)) != len(parts):
            raise ValueError(
                f"unknown fast path {text!r}; use 'auto', 'fp32' or a label such as "
                "'bf16', 'fp32+channels_last', 'bf16+channels_last+compiled', 'fp32+fused'"
            )
        memory_format = "channels_last" if "channels_last" in parts else "contiguous"
        return cls(parts[0], memory_format, "compiled" in parts, "fused" in parts)

    def identity(self) -> dict[str, Any] | None:
        """What a stored run's fingerprint records: ``None`` for fp32 eager contiguous (so runs stored
        before the fast path keep their fingerprint), else precision, memory format, compile and the
        fused optimizer (listed only when on, so runs stored before it existed keep their name)."""
        if not self.features:
            return None
        identity = {"precision": self.precision, "memory_format": self.memory_format, "compiled": self.compiled}
        return {**identity, "fused_optimizer": True} if self.fused_optimizer else identity

    def record(self) -> dict[str, Any]:
        """Precision, memory format, compile and fused optimizer as plain values (history and metrics)."""
        return {
            "setting": self.label,
            "precision": self.precision,
            "memory_format": self.memory_format,
            "compiled": self.compiled,
            "fused_optimizer": self.fused_optimizer,
        }

    def optimizer_options(self, optimizer: type[torch.optim.Optimizer] | str) -> dict[str, Any]:
        """``{"fused": True}`` for this setting's optimizer where it has a fused kernel, else ``{}``."""
        return {"fused": True} if self.fused_optimizer and has_fused_kernel(optimizer) else {}

    def autocast(self, device: torch.device | str):
        """The bf16 autocast context for ``device`` (a no-op context for fp32)."""
        device_type = torch.device(device).type
        if self.precision == "bf16":
            return torch.autocast(device_type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def model(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` in this setting's memory format (in place; the same module)."""
        if self.memory_format == "channels_last":
            model.to(memory_format=torch.channels_last)
        return model

    def input(self, x: torch.Tensor) -> torch.Tensor:
        """A 4-D batch in this setting's memory format (other tensors unchanged)."""
        if self.memory_format == "channels_last" and x.dim() == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x


FP32_EAGER = Setting()


def restore_contiguous(*models: torch.nn.Module) -> None:
    """Put ``models`` back into the contiguous memory format after training (01, 05)."""
    for model in models:
        model.to(memory_format=torch.contiguous_format)


# --------------------------------------------------------------------------- hardware


def cpu_flags() -> set[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``; else ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bf16 natively: AVX-512 BF16 or AMX on a CPU, bf16 on a CUDA GPU."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if any(check is not None for check in checks):
        return any(check() for check in checks if check is not None)
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def can_compile(device: torch.device | str) -> bool:
    """Whether ``torch.compile`` can build kernels here (a C++ compiler for CPU; CUDA otherwise)."""
    device = torch.device(device)
    if device.type == "cuda":
        return True
    return device.type == "cpu" and any(shutil.which(c) for c in ("g++", "c++", "clang++"))


def machine_identity(device: torch.device | str) -> dict[str, Any]:
    """What the probe's timings depend on besides the model: the device, threads, allocator, torch."""
    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    return {
        "device": device.type,
        "name": name,
        "threads": torch.get_num_threads(),
        "allocator": allocator.active(),
        "bf16": native_bf16(device),
        "torch": torch.__version__.split("+")[0],
    }


FUSED_OPTIMIZERS = ("SGD", "Adam", "AdamW")  # torch optimizers with a fused CPU and CUDA kernel


def has_fused_kernel(optimizer: type[torch.optim.Optimizer] | str) -> bool:
    """Whether ``optimizer`` (a class or a name such as ``"adamw"``) has a fused (one-kernel) step."""
    name = optimizer if isinstance(optimizer, str) else optimizer.__name__
    return name.lower() in {n.lower() for n in FUSED_OPTIMIZERS}


def candidates(
    device: torch.device | str, image_input: bool, allow_bf16: bool, allow_compile: bool, fused: bool = False
) -> list[Setting]:
    """The settings worth probing for a model on ``device``, fp32 eager first; with ``fused`` (the
    optimizer has a fused kernel) every candidate uses it."""
    device = torch.device(device)
    if device.type not in ("cpu", "cuda"):
        return [FP32_EAGER]
    precisions = ["fp32", "bf16"] if allow_bf16 and native_bf16(device) else ["fp32"]
    formats = ["contiguous", "channels_last"] if image_input else ["contiguous"]
    compiled = [False, True] if allow_compile and can_compile(device) else [False]
    return [Setting(p, f, c, fused) for c in compiled for p in precisions for f in formats]


def worth_probing_compile(device: torch.device | str, eager_s: float) -> bool:
    """Whether an eager run of ``eager_s`` seconds is long enough that compiling it could pay (see
    :data:`CPU_COMPILE_GAIN`; on CUDA half the run against two compiles of :data:`COMPILE_FLOOR_S`)."""
    if not can_compile(device):
        return False
    if torch.device(device).type == "cpu":
        return eager_s * CPU_COMPILE_GAIN > CPU_COMPILE_PROBE_S
    return eager_s * 0.5 > 2 * COMPILE_FLOOR_S


# --------------------------------------------------------------------------- the probe


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def probe_setting(
    make_stepper: Callable[[Setting], Callable[[int], float]], setting: Setting, device, steps: int
) -> dict[str, Any]:
    """Seconds per step, first-call overhead (compile) and losses of ``steps`` steps of one setting.

    ``make_stepper(setting)`` builds a fresh copy of the training (model, optimizer) in ``setting``
    and returns ``step(i)``, which runs training step ``i`` of a fixed sequence and returns its loss.
    """
    device = torch.device(device)
    step = make_stepper(setting)
    started = time.perf_counter()
    losses = [step(0), step(1)]  # warm-up: compile, oneDNN primitives, the allocator
    _synchronize(device)
    warmup = time.perf_counter() - started
    times = []
    for i in range(2, 2 + steps):
        started = time.perf_counter()
        losses.append(step(i))
        _synchronize(device)
        times.append(time.perf_counter() - started)
    return {"times": times, "warmup_s": warmup, "losses": losses}


def _trajectory_gap(losses: Sequence[float], reference: Sequence[float]) -> float:
    """Largest step-by-step relative difference of two loss sequences."""
    scale = max(statistics.fmean(abs(v) for v in reference), 1e-12)
    return max(abs(a - b) for a, b in zip(losses, reference)) / scale


def _first_gap(losses: Sequence[float], reference: Sequence[float]) -> float:
    """Relative difference of the first losses (the same weights and batch: the arithmetic alone)."""
    return abs(losses[0] - reference[0]) / max(abs(reference[0]), 1e-12)


def probe(
    make_stepper: Callable[[Setting], Callable[[int], float]],
    settings: Sequence[Setting],
    device,
    steps: int = PROBE_STEPS,
    rounds: int = PROBE_ROUNDS,
) -> dict[str, dict[str, float]]:
    """Per setting label: seconds per step (the fastest timed step: on a shared machine the least
    disturbed one), compile seconds (the warm-up of a compiled
    setting beyond its own steady steps and beyond an eager warm-up's overhead), the relative gap of
    the first step's loss to the first setting's (fp32 eager, the reference) and the largest gap
    over all steps (01).

    The settings are timed in ``rounds`` interleaved rounds, so a burst of load from elsewhere hits
    them alike; every setting starts from the same weights and sees the same batches.
    """
    raw: dict[str, dict[str, Any]] = {}
    with torch.random.fork_rng(devices=[]):
        for _ in range(rounds):
            for setting in settings:
                torch.manual_seed(0)
                result = probe_setting(make_stepper, setting, device, steps)
                entry = raw.setdefault(setting.label, {"times": [], "warmup_s": [], "losses": result["losses"]})
                entry["times"] += result["times"]
                entry["warmup_s"].append(result["warmup_s"])
    per_step = {label: min(entry["times"]) for label, entry in raw.items()}  # the least disturbed step
    overhead = {label: min(entry["warmup_s"]) - 2 * per_step[label] for label, entry in raw.items()}
    eager_overhead = min(v for label, v in overhead.items() if "compiled" not in label)
    reference = raw[settings[0].label]["losses"]
    return {
        setting.label: {
            "s_per_step": per_step[setting.label],
            "compile_s": max(overhead[setting.label] - eager_overhead, 0.0) if setting.compiled else 0.0,
            "loss_gap": _first_gap(raw[setting.label]["losses"], reference),
            "trajectory_gap": _trajectory_gap(raw[setting.label]["losses"], reference),
        }
        for setting in settings
    }


def decide(measured: dict[str, dict[str, float]], settings: Sequence[Setting], planned_steps: int) -> Setting:
    """The setting that finishes ``planned_steps`` soonest, compile time counted, bf16 only within
    the loss tolerance, the simpler setting kept unless the other saves :data:`SIMPLER_MARGIN` more."""

    def cost(setting: Setting) -> float:
        m = measured[setting.label]
        return (planned_steps * m["s_per_step"] + m["compile_s"]) * (1 + SIMPLER_MARGIN * setting.features)

    allowed = [s for s in settings if s.label in measured and (s.precision == "fp32" or _bf16_holds(measured[s.label]))]
    return min(allowed, key=lambda s: (cost(s), s.features, s.label)) if allowed else FP32_EAGER


def _bf16_holds(m: dict[str, float]) -> bool:
    """Whether a bf16 setting's probe losses stayed within both tolerances of fp32's."""
    return m["loss_gap"] <= BF16_LOSS_TOLERANCE and m.get("trajectory_gap", 0.0) <= BF16_DRIFT_TOLERANCE


def cache_path(key: dict[str, Any], root: Path | None = None) -> Path:
    """``<checkpoints>/_fast_path/<fingerprint of key>.json``: the stored probe of one model."""
    from .checkpoint import config_fingerprint
    from .paths import checkpoints_root

    return (root or checkpoints_root()) / "_fast_path" / f"{config_fingerprint(key)}.json"


@dataclass
class Choice:
    """The chosen setting of one training, with where it came from and the probe's numbers."""

    setting: Setting
    source: str  # "requested", "short run", "probe", "stored probe", "no candidates"
    planned_steps: int
    measured: dict[str, dict[str, float]]
    probe_s: float = 0.0

    def record(self) -> dict[str, Any]:
        """Setting, source, planned steps and the probe's seconds per step (history, metrics)."""
        return {
            **self.setting.record(),
            "source": self.source,
            "planned_steps": self.planned_steps,
            "probe_s": round(self.probe_s, 2),
            "measured": {label: {k: round(v, 6) for k, v in m.items()} for label, m in sorted(self.measured.items())},
        }


def resolve(
    fast_path: str,
    device,
    planned_steps: int,
    key: dict[str, Any] | None,
    make_stepper: Callable[[Setting], Callable[[int], float]] | None,
    image_input: bool,
    allow_bf16: bool,
    cache_root: Path | None = None,
    fused_optimizer: bool = False,
) -> Choice:
    """The setting of one training: the requested one, or for ``"auto"`` the measured choice (01).

    ``key`` names what the timings depend on (architecture, batch shape, task, optimizer); with
    ``None`` or no ``make_stepper`` (e.g. a lazily loaded data set) ``auto`` stays fp32 eager.
    ``fused_optimizer``: the training's optimizer has a fused kernel (:func:`has_fused_kernel`), so
    every probed setting, and the chosen one, use it.
    """
    if fast_path != "auto":
        setting = FP32_EAGER if fast_path == "fp32" else Setting.parse(fast_path)
        if setting.precision == "bf16" and not native_bf16(device) and torch.device(device).type == "cpu":
            print(f"note: bf16 requested on a CPU without native bf16 ({cpu_name()}): it runs, but slowly")
        return Choice(setting, "requested", planned_steps, {})
    if key is None or make_stepper is None or planned_steps < MIN_PROBE_STEPS:
        return Choice(FP32_EAGER, "short run" if key is not None else "no candidates", planned_steps, {})
    full_key = {
        "probe": PROBE_VERSION,
        **key,
        **machine_identity(device),
        "bf16_allowed": bool(allow_bf16),
        "fused_optimizer": bool(fused_optimizer),
    }
    path = cache_path(full_key, cache_root)
    measured: dict[str, dict[str, float]] = {}
    try:
        measured = json.loads(path.read_text()).get("measured", {})
    except (OSError, ValueError):
        pass
    source = "stored probe"
    started = time.perf_counter()
    eager = candidates(device, image_input, allow_bf16, allow_compile=False, fused=fused_optimizer)
    reference = eager[0]  # fp32 eager contiguous (with the fused optimizer where there is one)
    if len(eager) == 1 and not can_compile(device) and not fused_optimizer:
        return Choice(FP32_EAGER, "no candidates", planned_steps, {})
    missing = [s for s in eager if s.label not in measured]
    if missing:
        measured.update(probe(make_stepper, eager if reference in missing else [reference, *missing], device))
        source = "probe"
    best = decide(measured, eager, planned_steps)
    settings = list(eager)
    if worth_probing_compile(device, planned_steps * measured[best.label]["s_per_step"]):
        # the best eager precision, compiled, in each memory format (compile reorders what is fast)
        compiled = [s for s in candidates(device, image_input, allow_bf16, True, fused_optimizer) if s.compiled]
        compiled = [s for s in compiled if s.precision == best.precision]
        missing = [s for s in compiled if s.label not in measured]
        if missing:
            quiet_compiler_warnings()
            timed = probe(make_stepper, [reference, *missing], device, rounds=1)
            measured.update({k: v for k, v in timed.items() if k != reference.label})
            source = "probe"
        settings += compiled
    if source == "probe":
        from .checkpoint import write_json_atomically

        write_json_atomically({"key": full_key, "measured": measured}, path)
    choice = Choice(decide(measured, settings, planned_steps), source, planned_steps, measured)
    choice.probe_s = time.perf_counter() - started
    return choice


def compiled(module: torch.nn.Module) -> torch.nn.Module:
    """``torch.compile(module)`` (same parameters and state dict), without inductor's CPU-only note."""
    quiet_compiler_warnings()
    return torch.compile(module)


def quiet_compiler_warnings() -> None:
    """Silence inductor's one-line note that a CPU-only machine has no CUDA runtime (noise in a notebook)."""
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)


def announce(name: str, choice: Choice, verbose: bool = True) -> None:
    """Record ``choice`` for the notebook's metrics and, for a measured choice, say it in one line."""
    CHOSEN.append({"name": name, **{k: v for k, v in choice.record().items() if k != "measured"}})
    if verbose and choice.source in ("probe", "stored probe"):
        m = choice.measured
        reference = "fp32+fused" if choice.setting.fused_optimizer else "fp32"
        speed = m[reference]["s_per_step"] / m[choice.setting.label]["s_per_step"] if reference in m else float("nan")
        print(
            f"{name}: fast path {choice.setting.label} ({speed:.2f}x {reference} eager per step, "
            f"{choice.source}{f', {choice.probe_s:.0f} s' if choice.source == 'probe' else ''})"
        )
