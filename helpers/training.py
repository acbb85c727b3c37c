"""Seeding, device choice and a small ``Trainer`` (introduced in 01, used by 01-05).

The trainer is d2l/Lightning-shaped but small: ``Trainer(...).fit(model, train, val)`` runs epochs
over :class:`helpers.data.Batches`, records per-batch and per-epoch history (loss, accuracy, wall
time), shows progress (a widget bar in JupyterLab, one line per epoch in batch runs), guards against
NaN/inf losses, calls callbacks (best-model checkpoint, early stopping) and, given a
:class:`~helpers.checkpoint.RunStore`, stores every epoch atomically under the fingerprint of
everything that made the run, resumes an interrupted run and reuses a finished one only when every
setting is the same. Models stay plain ``nn.Module``s: all training state lives here.
"""

from __future__ import annotations

import contextlib
import copy
import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import allocator, distributed
from .checkpoint import RunStore, callable_identity, data_identity, model_identity, save_checkpoint, state_fingerprint
from .fast_path import (
    FP32_EAGER,
    MODES,
    PROBE_STEPS,
    Setting,
    announce,
    compiled,
    default_mode,
    has_fused_kernel,
    restore_contiguous,
)
from .fast_path import resolve as resolve_fast_path

_DEVICE_PRINTED: set[str] = set()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so that CPU runs repeat exactly (01)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def pick_device(preferred: str | None = None, verbose: bool = True) -> torch.device:
    """CUDA if available, else Apple MPS, else CPU (or ``preferred``); printed once (01).

    Under torchrun this also joins the process group, so ``cuda`` means this rank's GPU."""
    distributed.setup()
    if preferred:
        device = torch.device(preferred)
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    if verbose and str(device) not in _DEVICE_PRINTED:
        _DEVICE_PRINTED.add(str(device))
        name = (
            torch.cuda.get_device_name(device)
            if device.type == "cuda"
            else f"{torch.get_num_threads()} CPU threads, {allocator.active()} allocator"
        )
        print(f"device: {device} ({name}), torch {torch.__version__}")
    return device


def device_identity(device) -> dict[str, Any]:
    """The part of a stored run's identity that the hardware setting decides (01): the device type
    and, on CPU, torch's intra-op thread count. Another thread count splits the reductions of
    convolutions and matrix products differently, so the trained weights differ in their last bits
    (measured: ``OMP_NUM_THREADS=1`` against 2 threads); a run stored with one count is therefore
    not reused for another. Set the count with ``OMP_NUM_THREADS`` before starting Python."""
    device = torch.device(device)
    return {"device": device.type, **({"threads": torch.get_num_threads()} if device.type == "cpu" else {})}


@contextlib.contextmanager
def evaluating(model: nn.Module):
    """Eval mode and no gradients inside the block; the model's previous mode afterwards (01).

    The one place that switches a model to evaluation: the trainer's evaluation, ``predict``, the
    sample scores of 05 and GAN sampling all use it.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


DESC_WIDTH = 16  # characters of a bar's label (longer names are cut with "…")
POSTFIX_WIDTH = 28  # characters of the numbers after a bar


def _trim(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def short_postfix(record: dict[str, float], width: int = POSTFIX_WIDTH) -> str:
    """The few numbers a progress bar shows after an epoch: held-out loss and accuracy (01).

    ``{"train_loss": .31, "test_loss": .29, "test_acc": .91}`` -> ``"test loss .290 acc 91.0%"``;
    without held-out numbers the training ones are shown. Cut to ``width`` characters so the bar
    itself keeps its room at any notebook width.
    """
    held_out = sorted({k.split("_")[0] for k in record if k.endswith(("_loss", "_acc"))} - {"train"})
    prefix = held_out[0] if held_out else "train"
    parts = [prefix]
    if f"{prefix}_loss" in record:
        parts.append(f"loss {record[f'{prefix}_loss']:.3g}")
    if f"{prefix}_acc" in record:
        parts.append(f"acc {100 * record[f'{prefix}_acc']:.1f}%")
    if len(parts) == 1:  # neither: the first numbers given (e.g. a GAN's d_loss, g_loss)
        parts = [f"{k} {v:.3g}" for k, v in record.items() if isinstance(v, (int, float))][:2]
    return _trim(" ".join(parts), width)


class EpochLines:
    """A progress "bar" for batch runs: one plain line per step on the console, nothing in the notebook (01).

    ``per_item=True`` writes a line after every item (epochs); otherwise one line at ``close()``
    (e.g. the batches of one GAN epoch, with the epoch's numbers set just before). The API is the part of tqdm the
    workbook uses: iteration, ``set_postfix_str``, ``set_postfix``, ``close``, ``n``.
    """

    def __init__(
        self,
        iterable: Iterable,
        desc: str = "",
        total: int | None = None,
        initial: int = 0,
        unit: str = "it",
        per_item: bool = True,
        write: Callable[[str], None] | None = None,
    ):
        from .frontend import console_line

        self.iterable, self.desc, self.unit, self.per_item = iterable, desc, unit, per_item
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.n, self.postfix, self.write = initial, "", write or console_line
        self._started, self._pending, self._closed, self._in_item = time.perf_counter(), False, False, False

    def __iter__(self):
        for item in self.iterable:
            self._in_item = True
            yield item
            self._in_item = False
            self.n += 1
            self._pending = True
            if self.per_item:
                self._emit()
        if self.per_item:
            self.close()

    def __len__(self) -> int:
        return self.total or 0

    def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
        """Numbers to show after the count (kept as given; the caller keeps them short)."""
        self.postfix = text

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **values) -> None:
        """tqdm-style ``key=value`` numbers."""
        values = {**(ordered_dict or {}), **values}
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def _emit(self) -> None:
        count = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        seconds = time.perf_counter() - self._started
        tail = f" {self.postfix}" if self.postfix else ""
        self.write(f"{self.desc}: {self.unit} {count}{tail} ({seconds:.1f} s)")
        self._pending, self._started = False, time.perf_counter()

    def close(self) -> None:
        """Write the line still owed: the per-iterable line, or that of an item the loop broke out of."""
        if self._closed:
            return
        if self._in_item:  # the caller left the loop inside an item (early stopping): it counts
            self.n, self._in_item, self._pending = self.n + 1, False, True
        if self._pending:
            self._emit()
        self._closed = True


def progress(
    iterable: Iterable, desc: str = "", unit: str = "it", per_item: bool = True, disable: bool = False, **kwargs
):
    """Progress over ``iterable``: a widget bar in JupyterLab, one line per step in batch runs (01).

    - In a notebook open in JupyterLab (see ``helpers.frontend.live_frontend``): a ``tqdm``
      widget with a label cut to ``DESC_WIDTH`` characters, full width, without the rate, so the
      bar stays visible at any width (callers keep their postfix short, see :func:`short_postfix`).
    - In papermill, ``nbconvert --execute`` and the runner (``WORKBOOK_PROGRESS=stderr``): an
      :class:`EpochLines` that writes one clean line per epoch (``per_item``) or per iterable to
      the console and nothing into the notebook, so executed notebooks and PDFs hold no stale bars.
    - In a terminal: tqdm's text bar. ``WORKBOOK_PROGRESS=off`` (the tests) or ``disable`` turns
      progress off.
    """
    from tqdm import tqdm

    from .frontend import in_kernel, live_frontend

    mode = os.environ.get("WORKBOOK_PROGRESS", "auto")
    if mode == "off" or disable:
        return tqdm(iterable, desc=desc, unit=unit, disable=True, **kwargs)
    if live_frontend():
        from tqdm.notebook import tqdm as notebook_tqdm

        bar = notebook_tqdm(
            iterable,
            desc=_trim(desc, DESC_WIDTH),
            unit=unit,
            **kwargs,
            bar_format="{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]",
        )
        container = getattr(bar, "container", None)
        if container is not None:  # full width; the bar keeps at least 120 px, texts wrap below it
            container.layout.width, container.layout.flex_flow = "100%", "row wrap"
            container.children[1].layout.flex, container.children[1].layout.min_width = "2", "120px"
        return bar
    if mode == "stderr" or in_kernel() or not sys.stderr.isatty():
        keep = {k: kwargs[k] for k in ("total", "initial") if k in kwargs}
        return EpochLines(iterable, desc, unit=unit, per_item=per_item, **keep)
    return tqdm(iterable, desc=desc, unit=unit, **kwargs)


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss; the message says where and what to try."""


# --------------------------------------------------------------------------- history


@dataclass
class History:
    """Per-epoch and per-batch records of a training run (plots read it; 01)."""

    epoch: dict[str, list[float]] = field(default_factory=dict)
    batch: dict[str, list[float]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)  # plain values about the run, e.g. its fast path

    def log_epoch(self, **values: float) -> None:
        """Append one value per key to the epoch history."""
        for key, value in values.items():
            self.epoch.setdefault(key, []).append(float(value))

    def log_batch(self, **values: float) -> None:
        """Append one value per key to the batch history."""
        for key, value in values.items():
            self.batch.setdefault(key, []).append(float(value))

    @property
    def epochs_done(self) -> int:
        """How many epochs are recorded."""
        return len(self.epoch.get("epoch", []))

    def last(self, key: str) -> float:
        """The last epoch value of ``key``."""
        return self.epoch[key][-1]

    def best(self, key: str, mode: str = "max") -> float:
        """The best epoch value of ``key`` (``mode`` ``max`` or ``min``)."""
        return (max if mode == "max" else min)(self.epoch[key])

    def state_dict(self) -> dict[str, Any]:
        """A ``weights_only``-safe dictionary of the history."""
        return {"epoch": self.epoch, "batch": self.batch, "meta": self.meta}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> History:
        """Rebuild a history saved with :meth:`state_dict`."""
        return cls(
            {k: list(v) for k, v in state["epoch"].items()},
            {k: list(v) for k, v in state["batch"].items()},
            dict(state.get("meta", {})),
        )


# --------------------------------------------------------------------------- tasks


def classification_step(model: nn.Module, batch: Sequence[torch.Tensor], loss_fn) -> tuple[torch.Tensor, dict]:
    """Loss and accuracy of a classifier on one ``(x, y)`` batch (01)."""
    x, y = batch[0], batch[1]
    logits = model(x)
    loss = loss_fn(logits, y)
    correct = (logits.argmax(1) == y).sum().item()
    return loss, {"correct": correct}


def reconstruction_step(
    model: nn.Module,
    batch: Sequence[torch.Tensor],
    loss_fn,
    corrupt: Callable[[torch.Tensor], torch.Tensor] | None = None,
):
    """Loss of an autoencoder on one batch: ``loss(model(corrupt(x)), x)`` (02, 04)."""
    x = batch[0]
    output = model(corrupt(x) if corrupt else x)
    return loss_fn(output, x), {}


LOSSES = {
    "cross_entropy": nn.CrossEntropyLoss,
    "mse": nn.MSELoss,
    "l1": nn.L1Loss,
    "bce": nn.BCELoss,
    "bce_logits": nn.BCEWithLogitsLoss,
}
OPTIMIZERS = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adadelta": torch.optim.Adadelta,
}


def make_loss(name: str) -> nn.Module:
    """A loss module by name: ``cross_entropy``, ``mse``, ``l1``, ``bce``, ``bce_logits`` (01)."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    return LOSSES[name]()


def make_optimizer(name: str, parameters, lr: float, **options) -> torch.optim.Optimizer:
    """An optimizer by name: ``sgd``, ``adam``, ``adamw``, ``rmsprop``, ``adadelta`` (01)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    if not lr > 0:
        raise ValueError(f"learning rate must be positive, got {lr}")
    return OPTIMIZERS[name](parameters, lr=lr, **options)


# --------------------------------------------------------------------------- recipes

SCHEDULES = ("constant", "onecycle", "cosine")


def schedule_factor(schedule: str, step: int, total_steps: int, warmup: float = 0.3) -> float:
    """The learning-rate multiplier of batch ``step`` (0-based) out of ``total_steps`` (01).

    ``constant``: 1. ``onecycle`` (Smith's one-cycle, as ``torch.optim.lr_scheduler.OneCycleLR``
    with cosine phases): rises from 1/25 to 1 over the first ``warmup`` fraction of the steps, then
    falls to 1/250 000 by the last step. ``cosine``: a linear warm-up from ~0 to 1 over the first
    ``warmup`` fraction, then a half cosine to 0. Both depend on the total number of steps, so a
    run with such a schedule is not the prefix of a longer one (``"continuable": False``).
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    if not 0 <= warmup < 1:
        raise ValueError(f"warmup is a fraction of the run in [0, 1), got {warmup}")
    if schedule == "constant":
        return 1.0
    total = max(int(total_steps), 1)
    rising = max(int(np.ceil(warmup * total)), 1)  # steps 0 .. rising-1 warm up
    falling = (step - rising + 1) / max(total - rising, 1)  # 0 at the peak, 1 at the last step
    if schedule == "cosine":
        return (step + 1) / rising if step < rising else _cosine_between(1.0, 0.0, min(falling, 1.0))
    start, end = 1 / 25, 1 / 25e4  # OneCycleLR's div_factor and final_div_factor
    if step < rising:
        return _cosine_between(start, 1.0, step / max(rising - 1, 1))
    return _cosine_between(1.0, end, min(falling, 1.0))


def _cosine_between(first: float, last: float, t: float) -> float:
    """Cosine interpolation from ``first`` (t = 0) to ``last`` (t = 1)."""
    return float(last + (first - last) * 0.5 * (1 + np.cos(np.pi * t)))


FLIP_SAFE = ("fashion-mnist", "cifar10")  # data sets whose classes survive a left-right flip


class Augment:
    """Light, label-preserving augmentation of an in-memory batch (introduced in 01).

    ``shift``: each image is moved by up to ``shift`` pixels in each direction (zero padding, a
    random crop back to the original size). ``flip``: half of the images are mirrored left-right,
    only for data whose labels survive it (:data:`FLIP_SAFE`: clothes, CIFAR-10 objects; never
    digits or letters). Random draws come from the generator the trainer passes in, seeded by
    (seed, epoch), so a run repeats exactly and a resumed epoch sees the same augmentation.
    """

    def __init__(self, shift: int = 2, flip: bool = False):
        if shift < 0:
            raise ValueError(f"shift must be a number of pixels >= 0, got {shift}")
        self.shift, self.flip = int(shift), bool(flip)

    @classmethod
    def for_data(cls, name: str, shift: int = 2) -> Augment:
        """Shifts for every data set, flips only for :data:`FLIP_SAFE` ones (01)."""
        return cls(shift=shift, flip=name in FLIP_SAFE)

    def __repr__(self) -> str:
        return f"Augment(shift={self.shift}, flip={self.flip})"

    def check(self, data) -> None:
        """Refuse flips on data whose labels a mirror image would change (digits, letters)."""
        name = getattr(data, "name", None)
        if self.flip and name is not None and name not in FLIP_SAFE:
            raise ValueError(
                f"Augment(flip=True) on {name!r}: a mirrored digit or letter is another "
                f"symbol, so flips are only for {', '.join(FLIP_SAFE)}; use "
                f"Augment.for_data({name!r}) or flip=False"
            )

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n, _, height, width = x.shape
        if self.shift:
            s = self.shift
            offsets = torch.randint(0, 2 * s + 1, (2, n), generator=generator).to(x.device)
            padded = torch.nn.functional.pad(x, (s, s, s, s))
            rows = (offsets[0][:, None] + torch.arange(height, device=x.device))[:, :, None]  # n x H x 1
            cols = (offsets[1][:, None] + torch.arange(width, device=x.device))[:, None, :]  # n x 1 x W
            x = padded[torch.arange(n, device=x.device)[:, None, None], :, rows, cols]  # n x H x W x C
            x = x.permute(0, 3, 1, 2).contiguous()
        if self.flip:
            mirror = (torch.rand(n, generator=generator) < 0.5).to(x.device)[:, None, None, None]
            x = torch.where(mirror, x.flip(-1), x)
        return x


# --------------------------------------------------------------------------- callbacks


class Callback:
    """Hook called by the trainer; return ``True`` from ``on_epoch_end`` to stop (01).

    A callback's ``identity()`` is part of the stored run's configuration (it may change how long
    training runs) and its ``state_dict()`` is stored with every epoch, so it survives a resume.
    """

    def on_epoch_end(self, trainer: Trainer, model: nn.Module, history: History) -> bool | None:
        """Called after each epoch with the updated history."""
        return None

    def identity(self) -> dict[str, Any]:
        """The settings that make this callback what it is (plain values)."""
        return {"type": type(self).__name__}

    def state_dict(self) -> dict[str, Any]:
        """What must survive a resume (``weights_only``-safe values)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


class BestModelCheckpoint(Callback):
    """Keep the model of the best epoch by ``monitor`` (004.Ex1's best-model callback; 01).

    The best weights are part of the trainer's stored run (so a resumed run keeps the best epoch
    of its first part); with ``path`` they are also written there whenever they improve.
    """

    def __init__(self, path: str | Path | None = None, monitor: str = "test_acc", mode: str = "max"):
        self.path, self.monitor, self.mode = Path(path) if path else None, monitor, mode
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None

    def _better(self, value: float) -> bool:
        return self.best is None or (value > self.best if self.mode == "max" else value < self.best)

    def identity(self) -> dict[str, Any]:
        return {"type": "BestModelCheckpoint", "monitor": self.monitor, "mode": self.mode}

    def on_epoch_end(self, trainer, model, history):
        value = history.last(self.monitor)
        if self._better(value):
            self.best, self.best_epoch = value, int(history.last("epoch"))
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            self._write()
        return None

    def _write(self) -> None:
        if self.path is not None and self.best_state is not None:
            save_checkpoint({"model": self.best_state, "epoch": self.best_epoch, self.monitor: self.best}, self.path)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "best_state": self.best_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.best_state = state["best"], state["best_epoch"], state["best_state"]
        self._write()

    def restore(self, model: nn.Module) -> nn.Module:
        """Load the best weights back into ``model``."""
        if self.best_state is None:
            raise RuntimeError(f"no best model yet: the callback has not seen an epoch of {self.monitor!r}")
        model.load_state_dict(self.best_state)
        return model


# --------------------------------------------------------------------------- the trainer


class Trainer:
    """Fit a model, with history, callbacks and stored, resumable runs: the one training loop (01).

    Training data is an in-memory ``ImageDataset`` (or tensors, or ``Batches``) or, for lazily
    loaded images such as Food-101's JPEGs, any map-style ``torch.utils.data.Dataset`` (03);
    ``parameter_groups(model)`` gives per-group learning rates (fine-tuning, 03).

    ``task`` is ``"classification"`` (``(x, y)`` batches, loss and accuracy) or
    ``"reconstruction"`` (the target is the input; ``corrupt`` makes it a denoising task).
    With ``store`` set (a :class:`~helpers.checkpoint.RunStore`, e.g. ``run.store("name")``), every
    epoch is stored atomically under the fingerprint of :meth:`config`; a new ``fit`` with the same
    configuration resumes after the last stored epoch (a finished run just reloads), any other
    configuration trains afresh into its own file.

    Recipes (issue 17; all part of :meth:`config`): ``schedule`` ``"onecycle"`` or ``"cosine"``
    (with ``warmup``, a fraction of the run) sets every group's learning rate per batch, see
    :func:`schedule_factor`; ``label_smoothing`` softens the training cross-entropy (the
    evaluation loss stays plain); ``augment`` (:class:`Augment`) shifts/flips each training batch
    from a generator seeded by (seed, epoch); with ``parameter_groups`` every group follows the
    schedule at its own base rate.

    ``fast_path`` (:mod:`helpers.fast_path`): ``"auto"`` (the default, unless
    ``$WORKBOOK_FAST_PATH`` says otherwise) runs the training
    in the setting a short timed probe measured to finish it soonest on this device: bf16 autocast
    (on hardware with native bf16 only), ``channels_last``, ``torch.compile`` (its
    compile time counted); runs under 150 steps stay fp32 eager. ``"fp32"`` is plain fp32 eager,
    the exact reproduction; a label such as ``"bf16+channels_last"`` forces a setting. The setting
    used is ``trainer.setting``, recorded in ``history.meta["fast_path"]`` and part of
    :meth:`config`. Data sit on the device whole.
    """

    def __init__(
        self,
        epochs: int,
        lr: float = 1e-3,
        optimizer: str = "adam",
        loss: str | nn.Module = "cross_entropy",
        task: str = "classification",
        batch_size: int = 128,
        weight_decay: float = 0.0,
        optimizer_options: dict[str, Any] | None = None,
        seed: int = 0,
        device: torch.device | str | None = None,
        store: RunStore | str | Path | None = None,
        callbacks: Sequence[Callback] = (),
        corrupt: Callable | None = None,
        log_every: int = 1,
        show_progress: bool = True,
        name: str = "model",
        parameter_groups: Callable[[nn.Module], list[dict]] | None = None,
        workers: int = 2,
        schedule: str = "constant",
        warmup: float = 0.3,
        label_smoothing: float = 0.0,
        augment: Augment | None = None,
        fast_path: str | None = None,
    ):
        if epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {epochs}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if task not in ("classification", "reconstruction"):
            raise ValueError(f"unknown task {task!r}; use 'classification' or 'reconstruction'")
        self.epochs, self.lr, self.optimizer_name = epochs, lr, optimizer
        self.loss_fn = make_loss(loss) if isinstance(loss, str) else loss
        self.loss_name = loss if isinstance(loss, str) else type(loss).__name__
        self.task, self.batch_size, self.weight_decay = task, batch_size, weight_decay
        self.optimizer_options = dict(optimizer_options or {})
        self.seed = seed
        self.store = store if isinstance(store, RunStore) or store is None else RunStore(store)
        self.device = torch.device(device) if device else pick_device(verbose=False)
        self.callbacks, self.corrupt = list(callbacks), corrupt
        self.log_every, self.show_progress, self.name = log_every, show_progress, name
        self.parameter_groups, self.workers = parameter_groups, workers
        self.stopped_early = False
        self.optimizer: torch.optim.Optimizer | None = None
        schedule_factor(schedule, 0, 1, warmup)  # validates both
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        if label_smoothing and not (loss == "cross_entropy" and task == "classification"):
            raise ValueError(
                "label_smoothing is an option of the 'cross_entropy' classification loss; "
                f"got loss={self.loss_name!r}, task={task!r}"
            )
        if augment is not None and not isinstance(augment, Augment):
            raise TypeError(f"augment must be a helpers.training.Augment, got {type(augment).__name__}")
        self.schedule, self.warmup, self.label_smoothing, self.augment = schedule, warmup, label_smoothing, augment
        if label_smoothing:  # training loss; evaluation stays plain
            self.eval_loss_fn, self.loss_fn = self.loss_fn, nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        else:
            self.eval_loss_fn = self.loss_fn
        fast_path = fast_path or default_mode()
        if fast_path not in MODES:
            Setting.parse(fast_path)  # refuses an unknown label before any training
        self.fast_path = fast_path
        self.setting: Setting = FP32_EAGER  # the setting of the last fit (fp32 eager before any)
        self.choice = None  # the last fit's helpers.fast_path.Choice

    def config(self, model: nn.Module, train, evaluation=None) -> dict[str, Any]:
        """Everything that makes a run: a stored run is reused only when all of it is equal.

        Architecture and initial weights (so frozen or pretrained parts count), every
        hyperparameter including the epoch count, seed, device type, the exact training and
        evaluation data (content hashes), the corruption, the callbacks and the fast-path setting
        (precision, memory format, compiled; absent for fp32 eager, so older runs keep their name).
        """
        return {
            "model": model_identity(model),
            "initial_state": state_fingerprint(model),
            "epochs": self.epochs,
            "lr": self.lr,
            "optimizer": self.optimizer_name,
            "options": self.optimizer_options,
            "loss": self.loss_name,
            "task": self.task,
            "batch_size": self.batch_size,
            "weight_decay": self.weight_decay,
            "seed": self.seed,
            **device_identity(self.device),
            "train": data_identity(train),
            "val": data_identity(evaluation),
            "corrupt": callable_identity(self.corrupt),
            "parameter_groups": callable_identity(self.parameter_groups),
            "callbacks": [cb.identity() for cb in self.callbacks],
            **({"world_size": distributed.world_size()} if distributed.world_size() > 1 else {}),  # torchrun
            **self._recipe_config(),
        }

    def _recipe_config(self) -> dict[str, Any]:
        """The training recipe's settings, listed only where they differ from plain training (so
        runs stored before the recipes existed keep their fingerprint). A schedule over the whole
        run makes a shorter run no prefix of a longer one: ``continuable`` is then ``False``."""
        recipe: dict[str, Any] = {}
        if self.schedule != "constant":
            recipe.update(schedule=self.schedule, warmup=self.warmup, continuable=False)
        if self.label_smoothing:
            recipe["label_smoothing"] = self.label_smoothing
        if self.augment is not None:
            recipe["augment"] = repr(self.augment)
        if self.setting.identity() is not None:
            recipe["fast_path"] = self.setting.identity()
        return recipe

    def step(self, model: nn.Module, batch, loss_fn=None, setting: Setting | None = None) -> tuple[torch.Tensor, dict]:
        """Loss and extra counts of one batch for this trainer's task, in ``setting`` (default: the
        trainer's fast-path setting: bf16 autocast and/or channels_last where chosen)."""
        loss_fn = loss_fn or self.loss_fn
        setting = setting or self.setting
        batch = (setting.input(batch[0]), *batch[1:])
        with setting.autocast(self.device):
            if self.task == "classification":
                loss, extra = classification_step(model, batch, loss_fn)
            else:
                loss, extra = reconstruction_step(model, batch, loss_fn, self.corrupt)
        return loss.float(), extra

    def _probe_key(self, model: nn.Module, batch) -> dict[str, Any]:
        """What a training step's cost depends on, besides the machine (the fast path's cache key)."""
        return {
            "model": model_identity(model),
            "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "input": [list(batch[0].shape), str(batch[0].dtype)],
            "task": self.task,
            "loss": self.loss_name,
            "optimizer": self.optimizer_name,
        }

    def optimizer_settings(self) -> dict[str, Any]:
        """The optimizer's keyword options (``optimizer_options`` plus ``weight_decay``)."""
        options = dict(self.optimizer_options)
        if self.weight_decay:
            options["weight_decay"] = self.weight_decay
        return options

    def probe_batches(self, train, count: int = PROBE_STEPS + 2) -> list[tuple[torch.Tensor, ...]]:
        """The first ``count`` full training batches of epoch 0 (the fast-path probe's steps)."""
        found = []
        for batch in make_batches(
            train, self.batch_size, shuffle=True, seed=self.seed, device=self.device, workers=self.workers
        ):
            if len(batch[0]) == self.batch_size:
                found.append(tuple(batch))
            if len(found) == count:
                break
        return found

    def stepper(self, model: nn.Module, batches: list):
        """``make_stepper(setting)`` for :func:`helpers.fast_path.resolve` (and the benchmark): a
        copy of ``model`` and its optimizer in ``setting``, stepping through ``batches``."""
        options = self.optimizer_settings()

        def make(setting: Setting):
            twin = setting.model(copy.deepcopy(model)).train()
            groups = self.parameter_groups(twin) if self.parameter_groups else None
            groups = groups or [p for p in twin.parameters() if p.requires_grad]
            fused = setting.optimizer_options(self.optimizer_name)
            optimizer = make_optimizer(self.optimizer_name, groups, self.lr, **options, **fused)
            forward = compiled(twin) if setting.compiled else twin

            def step(index: int) -> float:
                loss, _ = self.step(forward, batches[index % len(batches)], setting=setting)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                return loss.item()

            return step

        return make

    def choose_setting(self, model: nn.Module, train, planned_steps: int):
        """Resolve ``fast_path`` for this model, data and number of steps (the probe runs on copies;
        the RNG state is untouched), see :func:`helpers.fast_path.resolve`."""
        batches, key, image_input = [], None, False
        if distributed.world_size() == 1 and self.fast_path == "auto":
            batches = self.probe_batches(train)
            if batches:
                key = self._probe_key(model, batches[0])
                image_input = batches[0][0].dim() == 4 and any(
                    isinstance(m, nn.modules.conv._ConvNd) for m in model.modules()
                )
        return resolve_fast_path(
            self.fast_path,
            self.device,
            planned_steps,
            key,
            self.stepper(model, batches) if key else None,
            image_input=image_input,
            allow_bf16=True,  # the probe's loss checks, then the notebooks' result targets, judge it
            fused_optimizer=has_fused_kernel(self.optimizer_name),
        )

    def evaluate(self, model: nn.Module, data, batch_size: int = 1000) -> dict[str, float]:
        """Mean loss (and accuracy for classifiers) over a whole data set, in eval mode."""
        total, count, correct = 0.0, 0, 0
        generator_state = torch.get_rng_state()
        torch.manual_seed(self.seed + 7919)  # a fixed corruption for evaluation
        with evaluating(model):
            for batch in make_batches(data, batch_size, shuffle=False, device=self.device, workers=self.workers):
                loss, extra = self.step(model, batch, self.eval_loss_fn)
                n = len(batch[0])
                total, count = total + loss.item() * n, count + n
                correct += extra.get("correct", 0)
        torch.set_rng_state(generator_state)
        result = {"loss": total / max(count, 1)}
        if self.task == "classification":
            result["acc"] = correct / max(count, 1)
        return result

    def _resume(self, stored: StoredRun | None) -> History:
        history, state = stored.resume(self.epochs, self.device) if stored else (History(), None)
        if state is not None:
            for callback, callback_state in zip(self.callbacks, state.get("callbacks", [])):
                callback.load_state_dict(callback_state)
            self.stopped_early = bool(state.get("stopped_early", False))
        return history

    def fit(self, model: nn.Module, train, evaluation=None, eval_name: str = "test") -> History:
        """Train ``model`` on ``train``, evaluating on ``evaluation`` after each epoch.

        The per-epoch numbers are recorded as ``<eval_name>_loss`` (and ``_acc``): name them after
        what the data is (``"test"`` for curves on the test set, ``"val"`` for a validation split).
        """
        model.to(self.device)
        if self.augment is not None:
            self.augment.check(train)
        parameters = [p for p in model.parameters() if p.requires_grad]
        if not parameters:
            raise ValueError(f"{self.name}: the model has no trainable parameters")
        options = self.optimizer_settings()
        batches = distributed.shard(
            make_batches(train, self.batch_size, shuffle=True, seed=self.seed, device=self.device, workers=self.workers)
        )
        total_steps = self.epochs * len(batches)
        self.choice = self.choose_setting(model, train, total_steps)
        self.setting = self.choice.setting
        announce(self.name, self.choice, verbose=self.show_progress)
        self.setting.model(model)
        torch.manual_seed(self.seed)
        groups = self.parameter_groups(model) if self.parameter_groups else parameters
        optimizer = make_optimizer(
            self.optimizer_name, groups, self.lr, **options, **self.setting.optimizer_options(self.optimizer_name)
        )
        self.optimizer = optimizer
        config = self.config(model, train, evaluation)
        unknown = [key for key in ("train", "val", "corrupt", "parameter_groups") if config[key] is None]
        if self.store is not None and unknown:
            print(
                f"{self.name}: {' and '.join(unknown)} ha{'s' if len(unknown) == 1 else 've'} no stable identity "
                "(a lambda, a notebook function or a lazily loaded data set), so this run is not stored; "
                "for a corruption pass e.g. noise.GaussianNoise(sigma)"
            )
            self.store = None
        base_lrs = [group["lr"] for group in optimizer.param_groups]
        stored = (
            StoredRun(self.store, config, {"model": model, "optimizer": optimizer}, self.name)
            if self.store is not None
            else None
        )
        history = self._resume(stored)
        history.meta["fast_path"] = self.choice.record()
        net = distributed.wrap(model, self.device)  # DDP under torchrun (helpers.distributed), else model
        fast = compiled(net) if self.setting.compiled else net  # same parameters, same state_dict
        epochs = range(history.epochs_done, history.epochs_done if self.stopped_early else self.epochs)
        bar = progress(
            epochs,
            desc=self.name,
            unit="epoch",
            disable=not self.show_progress or not len(epochs),
            total=self.epochs,
            initial=history.epochs_done,
        )
        start_time = history.epoch["time_s"][-1] if history.epochs_done else 0.0
        for epoch in bar:
            t0 = time.perf_counter()
            model.train()
            batches.set_epoch(epoch)
            total, count, correct = 0.0, 0, 0
            augment_rng = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            for index, batch in enumerate(batches):
                if self.schedule != "constant":
                    factor = schedule_factor(self.schedule, epoch * len(batches) + index, total_steps, self.warmup)
                    for group, base in zip(optimizer.param_groups, base_lrs):
                        group["lr"] = base * factor
                if self.augment is not None:
                    batch = (self.augment(batch[0], augment_rng), *batch[1:])
                # the compiled graph is for full batches; a last, shorter batch runs eagerly (no recompile)
                loss, extra = self.step(fast if len(batch[0]) == self.batch_size else net, batch)
                if not torch.isfinite(loss):
                    raise NonFiniteLossError(
                        f"{self.name}: loss became {loss.item()} at epoch {epoch + 1}, batch {index + 1} "
                        f"(lr={self.lr}, optimizer={self.optimizer_name}). Lower the learning rate, "
                        "check the inputs for NaNs, or clip gradients."
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                n = len(batch[0])
                total, count = total + loss.item() * n, count + n
                correct += extra.get("correct", 0)
                if index % self.log_every == 0:
                    history.log_batch(
                        epoch=epoch + index / len(batches), loss=loss.item(), lr=optimizer.param_groups[0]["lr"]
                    )
            total, count, correct = distributed.all_sum(total, count, correct)
            record = {"epoch": epoch + 1, "train_loss": total / count}
            if self.task == "classification":
                record["train_acc"] = correct / count
            if evaluation is not None:
                record.update({f"{eval_name}_{k}": v for k, v in self.evaluate(model, evaluation).items()})
            record["time_s"] = start_time + time.perf_counter() - t0
            start_time = record["time_s"]
            history.log_epoch(**record)
            bar.set_postfix_str(short_postfix(record))
            stop = any(bool(cb.on_epoch_end(self, model, history)) for cb in self.callbacks)
            if stored is not None:
                stored.save(
                    history,
                    self.epochs if stop else history.epochs_done,
                    self.epochs,
                    callbacks=[cb.state_dict() for cb in self.callbacks],
                    stopped_early=bool(stop),
                )
            if stop:
                self.stopped_early = True
                break
        bar.close()
        if self.setting.memory_format != "contiguous":
            restore_contiguous(model)  # an ordinary model for what follows (plots, predict, saving)
        return history


class StoredRun:
    """The stored state of one training loop in a :class:`~helpers.checkpoint.RunStore`: its modules
    and optimizers by name, the RNG state, the history and any extra values (the trainer; 05's GAN) (01)."""

    def __init__(self, store: RunStore, config: dict[str, Any], parts: dict[str, Any], name: str):
        self.store, self.config, self.parts, self.name = store, config, parts, name

    def resume(self, epochs: int, device=None) -> tuple[History, dict[str, Any] | None]:
        """Load the stored state into the parts; the history so far and the whole state (or a fresh
        history and ``None`` when nothing is stored)."""
        state = self.store.load(self.config, device or "cpu")
        if state is None:
            return History(), None
        for key, part in self.parts.items():
            part.load_state_dict(state[key])
        torch.set_rng_state(state["rng"])
        history = History.from_state(state["history"])
        done = history.epochs_done
        word = (
            "reusing the stored run" if done >= epochs or state.get("stopped_early") else f"resuming after epoch {done}"
        )
        print(f"{self.name}: {word} ({self.store.path(self.config).name}, same settings, data and initial weights)")
        return history, state

    def save(self, history: History, epochs_done: int, epochs: int, **extra: Any) -> None:
        """Store the parts, the RNG state, ``history`` and ``extra`` after an epoch."""
        state = {key: part.state_dict() for key, part in self.parts.items()}
        self.store.save(
            self.config,
            {**state, "rng": torch.get_rng_state(), "history": history.state_dict(), **extra},
            epochs_done,
            epochs,
        )


class LoaderBatches:
    """Mini-batches of a lazily loaded ``torch.utils.data.Dataset`` (e.g. Food-101 JPEGs) through a
    ``DataLoader``, shuffled per ``(seed, epoch)`` like :class:`~helpers.data.Batches` (03)."""

    def __init__(self, dataset, batch_size: int, shuffle: bool = True, seed: int = 0, workers: int = 2, device=None):
        self.dataset, self.batch_size, self.shuffle, self.seed = dataset, batch_size, shuffle, seed
        self.workers, self.device, self.epoch = workers, device, 0

    def set_epoch(self, epoch: int) -> None:
        """Fix the shuffle order to the one of ``epoch``."""
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        loader = torch.utils.data.DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            shuffle=self.shuffle,
            generator=generator,
            num_workers=self.workers,
        )
        for x, y in loader:
            yield x.to(self.device), torch.as_tensor(y).to(self.device)
        self.epoch += 1


def make_batches(data, batch_size: int, shuffle: bool, seed: int = 0, device=None, workers: int = 2):
    """Batches over an ``ImageDataset`` (moved to ``device``), tensors, a ready ``Batches`` or any
    map-style ``torch.utils.data.Dataset`` (through a ``DataLoader``; 03) (01)."""
    from .data import Batches, ImageDataset

    if isinstance(data, Batches):
        return data
    if isinstance(data, ImageDataset):
        if device is not None and data.images.device != torch.device(device):
            data = data.to(device)
        return data.batches(batch_size, shuffle=shuffle, seed=seed)
    if isinstance(data, (tuple, list)):
        tensors = [t.to(device) if device is not None else t for t in data]
        return Batches(*tensors, batch_size=batch_size, shuffle=shuffle, seed=seed)
    if torch.is_tensor(data):
        return Batches(
            data.to(device) if device is not None else data, batch_size=batch_size, shuffle=shuffle, seed=seed
        )
    if isinstance(data, torch.utils.data.Dataset):
        return LoaderBatches(data, batch_size, shuffle, seed, workers, device)
    raise TypeError(f"cannot make batches from {type(data).__name__}; pass an ImageDataset, tensors or a torch Dataset")


def predict(
    model: nn.Module,
    data,
    batch_size: int = 1000,
    device=None,
    fn: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Apply ``model`` (or ``fn(model, x)``) to every image of ``data`` in eval mode, on CPU out (01)."""
    device = device or next(model.parameters()).device
    with evaluating(model):
        outputs = [
            (fn(model, batch[0]) if fn else model(batch[0])).cpu()
            for batch in make_batches(data, batch_size, shuffle=False, device=device)
        ]
    return torch.cat(outputs)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model`` (01)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
