"""The DCGAN training loop (introduced in 05): alternating D and G steps with the non-saturating
loss, per-batch and per-epoch losses of both networks, fixed-noise snapshots, and an atomic
stored run of G, D, both optimizers and the history after every epoch (a ``RunStore`` file named
by the fingerprint of every setting, both networks' initial weights and the exact images), so an
interrupted run resumes and a finished one with the same settings is reused. Images in [0, 1]
are mapped to [-1, 1] for tanh. ``fast_path`` (``helpers.fast_path``) picks the measured fastest
setting (bf16 autocast of the forward passes where the CPU or GPU has native bf16, with the losses
and the optimizers in fp32; ``channels_last``; ``torch.compile``); the chosen setting is part of the
stored run's fingerprint and recorded in ``history.meta["fast_path"]``.
"""

from __future__ import annotations

import contextlib
import copy
import time
from pathlib import Path

import torch
from torch import nn

from .checkpoint import RunStore, model_identity, state_fingerprint, tensor_fingerprint
from .data import Batches
from .fast_path import PROBE_STEPS, Setting, announce, compiled, default_mode, resolve, restore_contiguous
from .training import History, NonFiniteLossError, StoredRun, device_identity, evaluating, progress


def gan_step(
    G: nn.Module, D: nn.Module, opt_g, opt_d, real: torch.Tensor, z: torch.Tensor, setting: Setting | None = None
) -> dict:
    """One discriminator step then one generator step on a batch of real images in [-1, 1] (05).

    ``setting`` (the fast path's): its autocast wraps the forward passes (bf16 convolutions where
    chosen); the logits are taken back to fp32 for the losses and the optimizers' states stay fp32."""
    bce = nn.functional.binary_cross_entropy_with_logits
    autocast = setting.autocast(real.device) if setting is not None else contextlib.nullcontext()
    with autocast:
        fake = G(z)
        d_real, d_fake = D(real).float(), D(fake.detach()).float()
    d_loss = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    with autocast:
        d_on_fake = D(fake).float()
    g_loss = bce(d_on_fake, torch.ones_like(d_on_fake))  # non-saturating generator loss
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    out = {
        "d_loss": d_loss.item(),
        "g_loss": g_loss.item(),
        "d_real": torch.sigmoid(d_real).mean().item(),
        "d_fake": torch.sigmoid(d_fake).mean().item(),
    }
    if not all(abs(v) < float("inf") for v in out.values()):  # NaN or inf (NaN fails every comparison)
        raise NonFiniteLossError(f"GAN step produced a non-finite loss {out}; lower the learning rate")
    return out


def adam_pair(G: nn.Module, D: nn.Module, lr: float = 2e-4, beta1: float = 0.5, setting: Setting | None = None):
    """The DCGAN paper's optimizers: Adam, lr 2e-4, betas (0.5, 0.999) for both networks, with
    Adam's fused kernel where ``setting`` uses it (05)."""
    fused = setting.optimizer_options(torch.optim.Adam) if setting is not None else {}
    return (
        torch.optim.Adam(G.parameters(), lr=lr, betas=(beta1, 0.999), **fused),
        torch.optim.Adam(D.parameters(), lr=lr, betas=(beta1, 0.999), **fused),
    )


def gan_stepper(G: nn.Module, D: nn.Module, lr: float, beta1: float, reals: list, zs: list):
    """``make_stepper(setting)`` for :func:`helpers.fast_path.resolve`: copies of G and D with their
    optimizers in ``setting``, stepping through the fixed probe batches ``reals`` and noise ``zs`` (05)."""

    def make(setting: Setting):
        g, d = setting.model(copy.deepcopy(G)).train(), setting.model(copy.deepcopy(D)).train()
        opt_g, opt_d = adam_pair(g, d, lr, beta1, setting)
        g_run, d_run = (compiled(g), compiled(d)) if setting.compiled else (g, d)

        def step(index: int) -> float:
            out = gan_step(
                g_run, d_run, opt_g, opt_d, setting.input(reals[index % len(reals)]), zs[index % len(zs)], setting
            )
            return out["d_loss"] + out["g_loss"]

        return step

    return make


def choose_gan_setting(
    G: nn.Module,
    D: nn.Module,
    batches: Batches,
    epochs: int,
    lr: float,
    beta1: float,
    seed: int,
    device,
    fast_path: str,
):
    """The fast-path setting of a GAN run over ``batches`` of real images in [-1, 1] (a
    :class:`helpers.fast_path.Choice`; the probe steps copies of G and D on the first batches) (05)."""
    reals = [real for (real,), _ in zip(batches, range(PROBE_STEPS + 2))]
    z_source = torch.Generator().manual_seed(seed + 1)
    zs = [torch.randn(len(r), G.latent_dim, generator=z_source).to(device) for r in reals]
    shape = [batches.batch_size, *batches.tensors[0].shape[1:]]
    key = {"G": model_identity(G), "D": model_identity(D), "input": shape, "task": "gan"}
    return resolve(
        fast_path,
        device,
        epochs * len(batches),
        key if reals else None,
        gan_stepper(G, D, lr, beta1, reals, zs),
        image_input=True,
        allow_bf16=True,  # autocast forward passes, fp32 losses and optimizer states (gan_step)
        fused_optimizer=True,  # Adam has a fused kernel
    )


def sample(G: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] from latent vectors ``z``, in eval mode, on CPU (05)."""
    device = next(G.parameters()).device
    with evaluating(G):
        images = (G(z.to(device)).cpu() + 1) / 2
    return images.clamp(0, 1)


def train_gan(
    G: nn.Module,
    D: nn.Module,
    images: torch.Tensor,
    epochs: int,
    batch_size: int = 128,
    lr: float = 2e-4,
    beta1: float = 0.5,
    seed: int = 0,
    device=None,
    store: RunStore | str | Path | None = None,
    n_fixed: int = 16,
    snapshot_every: int = 1,
    show_progress: bool = True,
    epoch_metrics=None,
    epoch_metrics_identity=None,
    fast_path: str | None = None,
) -> tuple[History, dict]:
    """Train a GAN on ``images`` (N x C x H x W in [0, 1]); returns (history, fixed-noise snapshots) (05).

    ``epoch_metrics(G)`` (optional) returns numbers logged in the epoch history after every epoch
    (05: the FD of a fixed set of samples); it must not draw from the global random generator, and
    ``epoch_metrics_identity`` (what it computes: e.g. the scorer's and the reference's
    fingerprints) joins the stored run's identity.

    ``fast_path``: ``"auto"`` (the measured fastest setting; the default unless
    ``$WORKBOOK_FAST_PATH`` says otherwise), ``"fp32"`` (eager, exact reproduction) or a label such
    as ``"bf16+channels_last"`` (see ``helpers.fast_path``)."""
    if epoch_metrics is not None and epoch_metrics_identity is None:
        raise ValueError("epoch_metrics needs epoch_metrics_identity: what it computes is part of the stored run")
    device = torch.device(device or "cpu")
    G.to(device), D.to(device)
    real_all = images.to(device) * 2 - 1
    batches = Batches(real_all, batch_size=batch_size, shuffle=True, seed=seed, drop_last=True)
    choice = choose_gan_setting(G, D, batches, epochs, lr, beta1, seed, device, fast_path or default_mode())
    setting = choice.setting
    announce("GAN", choice, verbose=show_progress)
    torch.manual_seed(seed)
    opt_g, opt_d = adam_pair(G, D, lr, beta1, setting)
    fixed = torch.randn(n_fixed, G.latent_dim, generator=torch.Generator().manual_seed(seed))
    config = {
        "G": model_identity(G),
        "D": model_identity(D),
        "G_initial": state_fingerprint(G),
        "D_initial": state_fingerprint(D),
        "epochs": epochs,
        "lr": lr,
        "beta1": beta1,
        "batch_size": batch_size,
        "seed": seed,
        "images": tensor_fingerprint(images),
        "n_fixed": n_fixed,
        "snapshot_every": snapshot_every,
        **device_identity(device),
        **({"epoch_metrics": epoch_metrics_identity} if epoch_metrics else {}),
        **({"fast_path": setting.identity()} if setting.identity() is not None else {}),
    }
    setting.model(G), setting.model(D)
    store = store if isinstance(store, RunStore) or store is None else RunStore(store)
    stored = StoredRun(store, config, {"G": G, "D": D, "opt_g": opt_g, "opt_d": opt_d}, "GAN") if store else None
    history, state = stored.resume(epochs, device) if stored else (History(), None)
    snapshots, start = (dict(state["snapshots"]) if state else {}), history.epochs_done
    history.meta["fast_path"] = choice.record()
    g_run, d_run = (compiled(G), compiled(D)) if setting.compiled else (G, D)
    for epoch in range(start + 1, epochs + 1):
        batches.set_epoch(epoch)
        G.train(), D.train()
        t0, sums = time.perf_counter(), {}
        bar = progress(
            batches, desc=f"GAN {epoch}/{epochs}", unit="batch", per_item=False, leave=False, disable=not show_progress
        )
        for (real,) in bar:
            z = torch.randn(len(real), G.latent_dim, device=device)
            out = gan_step(g_run, d_run, opt_g, opt_d, setting.input(real), z, setting)
            history.log_batch(step=len(history.batch.get("step", [])) + 1, **out)
            sums = {k: sums.get(k, 0.0) + v for k, v in out.items()}
        elapsed = time.perf_counter() - t0
        extra = epoch_metrics(G) if epoch_metrics else {}
        history.log_epoch(epoch=epoch, **{k: v / len(batches) for k, v in sums.items()}, **extra, time_s=elapsed)
        bar.set_postfix_str(f"D {history.last('d_loss'):.3g} G {history.last('g_loss'):.3g}")
        bar.close()
        if epoch % snapshot_every == 0 or epoch == epochs:
            snapshots[epoch] = sample(G, fixed)
        if stored is not None:
            stored.save(history, epoch, epochs, snapshots=snapshots)
    if setting.memory_format != "contiguous":
        restore_contiguous(G, D)
    return history, snapshots
