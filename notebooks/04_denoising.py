# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,jupyter,-all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Denoising and compressing autoencoders — 004.Ex3, 002.P5.2, 002.P6.3
#
# You will see 004.Ex3's shallow dense autoencoder on notMNIST (`notmnist-10k` in `default`, the
# notMNIST-to-MNIST files in `full`) with a code-size sweep, its evaluation as a compression tool
# and an SVM on its codes, then the exercise's convolutional denoising autoencoder; then 002.P5.2's
# corruption process on a 2-D data set and 002.P6.3's CAE with and without skips on noisy MNIST
# (`mnist-10k` in `default`).

# %% tags=["parameters"]
profile = "default"  # smoke | default | full
seed = 0
ex3_dataset = "notmnist-10k"  # 004.Ex3 data (notmnist in full)
p6_dataset = "mnist-10k"  # 002.P6.3 data (mnist in full)
train_limit = 0  # 0 keeps every training image; N keeps a balanced subset of N
test_limit = 0  # 0 keeps every test image; N keeps a balanced subset of N
code_size = 32
code_sizes = [8, 16, 32, 64]
shallow_epochs = 40
shallow_lr = 3e-3  # shallow AE: peak of the one-cycle schedule
svm_train = 3000  # SVM fit on this many training codes / images (a fast fit)
denoise_train = 8000  # conv denoiser's noisy letters (all of notmnist-10k)
denoise_epochs = 10  # conv denoiser epochs (004.Ex3.e: the +8 dB PSNR target)
sigma = 0.3  # noise standard deviation
p6_epochs = 20
p6_lr = 1e-2  # 002.P6.3: peak of the one-cycle schedule (AdamW)
p6_batch = 32  # 002.P6.3 batches
batch_size = 128  # the exercise asks for 128
lr = 2e-3

# %%
import dataclasses
import functools
import time

import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display
from sklearn.svm import SVC

from helpers import noise
from helpers.compression import compression_row
from helpers.data import load_splits
from helpers.explorers import noise_explorer
from helpers.latent import latent_stats, pca_basis
from helpers.metrics import psnr
from helpers.models.autoencoders import ConvAutoencoder2D
from helpers.models.denoising import ConvDenoiser, layer_summary, shallow_models
from helpers.notebook import start_notebook, summary_table
from helpers.parameters import load_profiles
from helpers.plots import curves, image_rows, scatter_2d
from helpers.statements import compare, compare_accuracies, meets, reading, seed_differences
from helpers.training import predict

run = start_notebook("04_denoising", globals(), datasets={"004.Ex3": "ex3_dataset", "002.P6.3": "p6_dataset"})


def with_images(dataset, images):
    """The same split with other (e.g. noisy) images, for ``predict``."""
    return dataclasses.replace(dataset, images=images)


fit = functools.partial(run.fit, task="reconstruction", loss="mse", lr=lr, batch_size=batch_size)  # stored per name
ex3_train, ex3_test = (d.limited(n, seed) for d, n in zip(load_splits(ex3_dataset), (train_limit, test_limit)))
print(ex3_train, ex3_test)
run.record("data", ex3_train=len(ex3_train), ex3_test=len(ex3_test))

# %% [markdown] tags=["item:004.Ex3"]
# ## 004.Ex3 a–d) A shallow dense autoencoder
#
# One input layer (784 pixels), one hidden code layer (ReLU) and one output layer (sigmoid).
# The code size must lie between the 10 classes and the 784 pixels; 32 is the start, and a short
# sweep shows what each size costs. `encoder`, `decoder` and `autoencoder` are three models built
# from the same two layers, so training the autoencoder trains the other two. Training: MSE, batches
# of 128, AdamW with a one-cycle learning rate peaking at `shallow_lr`: its slow start protects the
# ReLU code, where a unit that is negative for every image gets no gradient and never recovers (a
# *dead* unit); the `live_units` column in f) counts the units that stayed alive in this run.

# %% tags=["solution"]
shallow, shallow_hist = {}, {}
for size in code_sizes:
    shallow[size] = shallow_models(size)
    shallow_hist[size] = fit(
        shallow[size][2],
        f"shallow_{size}",
        ex3_train,
        ex3_test,
        shallow_epochs,
        lr=shallow_lr,
        optimizer="adamw",
        schedule="onecycle",
    )
encoder, decoder, autoencoder = shallow[code_size]
run.figure(
    curves(
        {f"code {s}": h.epoch for s, h in shallow_hist.items()},
        ["test_loss"],
        ylabel="test MSE per pixel",
        title=f"004.Ex3 shallow AE, test loss per code size {run.caption('004.Ex3')}",
    ),
    "ex3_shallow_curves",
)

# %% [markdown] tags=["item:004.Ex3"]
# ## 004.Ex3 e) Inputs on top, reconstructions below

# %%
shown = ex3_test.images[:12]
with torch.no_grad():
    recon = decoder(encoder(shown.to(run.device))).cpu()
run.figure(
    image_rows(
        {"input": shown, f"code {code_size}": recon}, f"004.Ex3 shallow AE on test letters {run.caption('004.Ex3')}"
    ),
    "ex3_shallow_recon",
)
h = shallow_hist[code_size].epoch
run.record(
    "004.Ex3",
    shallow_loss_first=h["train_loss"][0],
    shallow_loss_last=h["train_loss"][-1],
    shallow_test_mse=h["test_loss"][-1],
)

# %% [markdown] tags=["item:004.Ex3"]
# ## 004.Ex3 f) Evaluating it as a compression tool
#
# A compressor is judged by the bandwidth it saves (bytes sent per image: 784 one-byte pixels
# raw against the code, as float32 or quantised to 8 bits per value) and by what it loses
# (reconstruction MSE and PSNR of the decoded image). Both are computed for every code size.

# %%
rows = []
flat_train, flat_test = ex3_train.images.flatten(1).numpy(), ex3_test.images.flatten(1).numpy()
mean_train, pca_components = flat_train.mean(0), pca_basis(flat_train, max(code_sizes))
for size, (enc, dec, _) in shallow.items():
    codes = predict(enc, ex3_test)
    rows.append(compression_row(size, ex3_test.images, codes, lambda z, dec=dec: dec(z.to(run.device)).cpu()))
    rows[-1]["live_units"] = int((codes > 0).any(0).sum())  # ReLU code units not zero on every test image
    basis = pca_components[:, :size]  # the best linear code of the same size
    rows[-1]["psnr_pca"] = psnr(
        ex3_test.images.flatten(1),
        torch.as_tensor((np.clip((flat_test - mean_train) @ basis @ basis.T + mean_train, 0, 1)), dtype=torch.float32),
    )
compression = pd.DataFrame(rows).set_index("code_size")
display(compression.round(3))
for size, row in compression.iterrows():
    run.record(
        "004.Ex3",
        **{
            f"ratio_u8_{size}": row.ratio_u8,
            f"psnr_f32_{size}": row.psnr_f32,
            f"psnr_u8_{size}": row.psnr_u8,
            f"live_units_{size}": int(row.live_units),
            f"psnr_pca_{size}": row.psnr_pca,
        },
    )

mean_image_mse = torch.mean((ex3_test.images - ex3_train.images.mean(0, keepdim=True)) ** 2).item()
run.record("004.Ex3", mean_image_mse=mean_image_mse)

# %% tags=["remove_input", "answer"] jupyter={"source_hidden": true}
baseline = {
    size: compare(
        f"code {size}",
        row.mse,
        "the mean image",
        mean_image_mse,
        better="lower",
        fmt="{:.4f}",
        spread=(0.05 * mean_image_mse, "tolerance of 5% of the baseline"),
        key=f"code_{size}_vs_mean_image",
    )
    for size, row in compression.iterrows()
}
flagged = [size for size, st in baseline.items() if st.outcome != "a"]
worst = compression.mse.idxmax()  # same baseline and margin for every size: the worst one decides
compresses_all = reading(
    baseline[worst],
    dict.fromkeys(
        ("same", "b"),
        f"**Failed:** code size(s) {', '.join(map(str, flagged))} decode no closer to the test letters than the mean "
        f"image: that model has not learnt to compress (its training MSE ended at "
        + ", ".join(f"{shallow_hist[s].last('train_loss'):.4f}" for s in flagged)
        + f" after {shallow_epochs} epochs), and its bandwidth figure is meaningless. More epochs "
        "(`shallow_epochs`) or a lower one-cycle peak (`shallow_lr`, if its code units died) fix it.",
    )
    | {"a": "Every code size decodes closer to the test letters than the mean image does: every model compresses."},
    key="every_code_compresses",
)
best = compression.psnr_f32.idxmax()
display(
    Markdown(
        "Against the trivial compressor that sends nothing and decodes every image as the mean training "
        f"image (test MSE {mean_image_mse:.4f}): "
        + "; ".join(run.verdict("004.Ex3", st) for st in baseline.values())
        + ". "
        + run.verdict("004.Ex3", compresses_all)
        + "\n\n"
        f"On {ex3_dataset} ({profile}), a {code_size}-value code sent as 8-bit values is "
        f"{compression.ratio_u8[code_size]:.1f}× smaller than the raw image and decodes at "
        f"{compression.psnr_u8[code_size]:.1f} dB PSNR ({compression.psnr_f32[code_size]:.1f} dB with float32 codes). "
        f"The sweep runs from {compression.ratio_u8.max():.0f}× at {compression.psnr_f32.min():.1f} dB to "
        f"{compression.ratio_u8.min():.1f}× at {compression.psnr_f32.max():.1f} dB (code {best}): "
        "bandwidth and fidelity trade against each other, and 8-bit quantisation of the codes costs "
        f"{(compression.psnr_f32 - compression.psnr_u8).max():.2f} dB at most. `live_units` counts the code "
        "values that are non-zero for at least one test image: a ReLU unit that is zero everywhere (dead) "
        "carries nothing, so a code with dead units is effectively that much smaller. `psnr_pca` is the PSNR "
        "of the best *linear* code of the same size (the top principal components of the training images): "
        + ", ".join(f"code {s}: AE {r.psnr_f32:.1f} dB vs PCA {r.psnr_pca:.1f} dB" for s, r in compression.iterrows())
        + ". An AE below its PCA line has not used its code fully (dead units, undertraining); one above it "
        "gains from its non-linear decoder. "
        + (
            "Dead units here: "
            + ", ".join(
                f"code {s}: {s - int(r.live_units)} of {s}" for s, r in compression.iterrows() if r.live_units < s
            )
            + "."
            if (compression.live_units < compression.index).any()
            else "No code size has a dead unit."
        )
        + (
            "\n\n"
            + run.target(
                "004.Ex3",
                meets(
                    "code 32's PSNR (float32 codes)",
                    compression.psnr_f32[32],
                    "the workbook's target",
                    17.0,
                    "higher",
                    "{:.1f} dB",
                    "target_code_32",
                ),
                f"{shallow_epochs} epochs on {len(ex3_train):,} letters for a single-layer encoder and decoder.",
                full=("ex3_dataset", "shallow_epochs"),
            )
            if 32 in compression.index
            else ""
        )
    )
)

# %% [markdown] tags=["item:004.Ex3"]
# ## 004.Ex3 g) An SVM on the codes vs on the raw pixels
#
# The same RBF SVM is fitted on the first `svm_train` training examples (a subset keeps the fit
# time small) and scored on the whole test split, once on the `code_size`-value codes, once on the
# pixels; both are scored on the same test images, so their difference is judged per image (paired).

# %% tags=["solution"]
svm_rows, svm_correct = {}, {}
sub = ex3_train.head(min(svm_train, len(ex3_train)))
for name, transform in {
    "AE codes": lambda d: predict(encoder, d).numpy(),
    "raw pixels": lambda d: d.images.flatten(1).numpy(),
}.items():
    start = time.perf_counter()
    svm = SVC().fit(transform(sub), sub.labels.numpy())
    seconds = time.perf_counter() - start
    svm_correct[name] = svm.predict(transform(ex3_test)) == ex3_test.labels.numpy()  # per test image
    svm_rows[name] = {"features": transform(sub).shape[1], "fit_s": seconds, "test_acc": svm_correct[name].mean()}
svm_table = pd.DataFrame(svm_rows).T
display(svm_table.round(3))
run.record(
    "004.Ex3",
    svm_acc_codes=svm_rows["AE codes"]["test_acc"],
    svm_acc_pixels=svm_rows["raw pixels"]["test_acc"],
    svm_fit_s_codes=svm_rows["AE codes"]["fit_s"],
    svm_fit_s_pixels=svm_rows["raw pixels"]["fit_s"],
)

# %% tags=["remove_input", "answer"] jupyter={"source_hidden": true}
c, p = svm_rows["AE codes"], svm_rows["raw pixels"]
svm_cmp = compare_accuracies(
    f"the SVM on {code_size}-value codes",
    svm_correct["AE codes"],
    "the SVM on 784 pixels",
    svm_correct["raw pixels"],
    fmt="{:.1f}%",
    diff_fmt="{:.1f} points",
    key="codes_vs_pixels",
)
svm_reading = reading(
    svm_cmp,
    {
        "a": "The codes were learnt without labels, to reconstruct rather than to separate classes, yet they serve "
        "the SVM better than the pixels do.",
        "same": "The codes were learnt without labels, to reconstruct rather than to separate classes, and they keep "
        "as much of the class information as the SVM can use from the pixels.",
        "b": "The codes were learnt without labels, to reconstruct rather than to separate classes, and they keep "
        "only part of the class information that the SVM finds in the pixels.",
    },
    key="codes_vs_pixels_reading",
)
display(
    Markdown(
        f"On {ex3_dataset} ({profile}, {len(sub)} training examples, the same {len(ex3_test)} test images for both): "
        f"{run.verdict('004.Ex3.g', svm_cmp)}; fit times {c['fit_s']:.2f} s on codes and {p['fit_s']:.2f} s on "
        f"pixels (this run's machine). {run.verdict('004.Ex3.g', svm_reading)} The codes have "
        f"{784 / code_size:.0f}× fewer features than the pixels."
    )
)

# %% [markdown] tags=["item:004.Ex3"]
# ## 004.Ex3 Convolutional denoising autoencoder
#
# The exercise's layers: an encoder of 3×3 convolutions with 32, 64 and 128 filters, 2×2 max-pooling
# after the first two; a decoder of 3×3 convolutions with 128, 64 and 1 filters, 2×2 upsampling after
# the first two. What the exercise leaves open is chosen here: ReLU, 'same' padding,
# nearest-neighbour upsampling and a sigmoid output.
# The layer summary is the "diabolo" check: the output shape equals the input shape.

# %%
summary = pd.DataFrame(layer_summary(ConvDenoiser()), columns=["layer", "output shape", "parameters"])
display(summary)
code_shape = summary[summary.layer.str.startswith("encoder")]["output shape"].iloc[-1]
code_values = int(np.prod(code_shape))
run.record(
    "004.Ex3",
    diabolo_ok=summary["output shape"].iloc[-1] == (1, 28, 28),
    encoder_output_values=code_values,
    denoiser_params=int(summary["parameters"].sum()),
)

# %% tags=["remove_input"] jupyter={"source_hidden": true}
compresses = compare(
    "the encoder's output",
    code_values,
    "the input",
    784,
    better="neither",
    fmt="{:,.0f} values",
    diff_fmt="{:,.0f} values",
    exact=True,
    key="encoder_size",
)
display(
    Markdown(
        f"a) The output shape {summary['output shape'].iloc[-1]} "
        + ("equals" if tuple(summary["output shape"].iloc[-1]) == (1, 28, 28) else "**differs from**")
        + f" the input's (1, 28, 28). b) The encoder's output is {code_shape}: "
        + run.verdict("004.Ex3.b", compresses)
        + (
            f" ({code_values / 784:.1f}× the input), so this encoder does not compress; it is a denoiser, not a codec."
            if compresses.outcome == "a"
            else ", so its output is a compressed code and could serve as a codec's bitstream."
        )
    )
)

# %% [markdown]
# Training data: the first `denoise_train` training images with fresh Gaussian noise (σ = `sigma`,
# clipped to [0, 1]) drawn in every batch; the test images get one fixed noisy copy. MSE against
# the clean image, batches of 128, Adam at `lr`. The test set is scored once, after training: this
# network is the notebook's most expensive per image.

# %% tags=["solution"]
noisy_test = noise.gaussian_noise(ex3_test.images, sigma, generator=torch.Generator().manual_seed(seed))
denoise_set = ex3_train.head(min(denoise_train, len(ex3_train)))
denoiser = ConvDenoiser()
den_hist = fit(
    denoiser,
    "conv_denoiser",
    denoise_set,
    None,
    denoise_epochs,
    corrupt=noise.GaussianNoise(sigma),
)
denoised = predict(denoiser, with_images(ex3_test, noisy_test))
before, after = psnr(ex3_test.images, noisy_test), psnr(ex3_test.images, denoised)
run.record(
    "004.Ex3",
    denoise_psnr_before=before,
    denoise_psnr_after=after,
    denoise_test_mse=float(((denoised - ex3_test.images) ** 2).mean()),
    denoise_loss_first=den_hist.epoch["train_loss"][0],
    denoise_loss_last=den_hist.last("train_loss"),
)
run.figure(
    image_rows(
        {"noisy": noisy_test[:12], "denoised": denoised[:12], "clean": ex3_test.images[:12]},
        f"004.Ex3 conv denoiser, σ={sigma}: PSNR {before:.1f} → {after:.1f} dB {run.caption('004.Ex3')}",
    ),
    "ex3_denoise_rows",
)

# %% tags=["remove_input"] jupyter={"source_hidden": true}
gain_cmp = compare("the denoised output", after, "the noisy input", before, fmt="{:.1f} dB", key="denoising_gain")
den_failed = (
    "**Failed:** the denoiser's output is no closer to the clean letters than its noisy input: it has not learnt "
    f"to denoise in {den_hist.epochs_done} epochs on {len(denoise_set):,} letters (training MSE "
    + " → ".join(f"{v:.4f}" for v in den_hist.epoch["train_loss"])
    + "). More epochs or more training letters (`denoise_epochs`, `denoise_train`) fix it."
)
den_reading = reading(
    gain_cmp,
    {"a": "The denoiser has learnt to remove part of the noise.", "same": den_failed, "b": den_failed},
    key="denoises",
)
display(
    Markdown(
        f"Over the {len(ex3_test)} noisy test letters, PSNR against the clean letters: "
        + run.verdict("004.Ex3.e", gain_cmp)
        + f", after {den_hist.epochs_done} epochs on {len(denoise_set)} images. "
        + run.verdict("004.Ex3.e", den_reading)
        + "\n\n"
        + run.target(
            "004.Ex3.e",
            meets("the PSNR gain", after - before, "the workbook's target", 8.0, "higher", "{:+.1f} dB", "target_gain"),
            "the conv denoiser is the notebook's most expensive network per image (a 128-channel $7\\times7$ "
            "bottleneck and full-resolution convolutions), so this profile trains it on "
            f"{len(denoise_set):,} letters for {den_hist.epochs_done} epochs "
            "only; its training loss in the last two epochs went "
            + " → ".join(f"{v:.4f}" for v in den_hist.epoch["train_loss"][-2:])
            + ".",
            full=("ex3_dataset", "denoise_train", "denoise_epochs"),
        )
    )
)

# %% [markdown]
# **Explore the noise level:** the denoiser was trained at σ = `sigma`; the slider shows how it
# copes with less and more noise (same noise pattern, scaled), with the PSNR of the noisy input
# and of the output.

# %%
noise_explorer({"conv denoiser": denoiser}, ex3_test, sigma, run.caption("004.Ex3"))

# %% [markdown] tags=["item:002.P5.2"]
# ## 002.P5.2 A corruption process on a 2-D data set
#
# Clean points $x = (t, t^2)$ with $t \sim U[-2, 2]$; the corruption process is
# $C(\tilde x \mid x) = \mathcal N(\tilde x;\, x,\, \sigma^2 I_2)$, i.e. $\tilde x = x + \varepsilon$ with
# $\varepsilon \sim \mathcal N(0, \sigma^2 I_2)$. A denoising autoencoder is trained to map each
# $\tilde x$ back towards the parabola (the data manifold).

# %%
import matplotlib.pyplot as plt

clean2d = noise.parabola_samples(400, seed=seed)
noisy2d = noise.corrupt_2d(clean2d, sigma, seed=seed)
fig, ax = plt.subplots(figsize=(5.4, 4.2))
ax.scatter(*noisy2d.T, s=6, alpha=0.5, label=f"corrupted x̃ (σ={sigma})")
ax.scatter(*clean2d.T, s=6, label="clean x on y = x²")
ax.set(xlabel="x", ylabel="y", title=f"002.P5.2 corruption C(x̃|x) on y = x² (synthetic, {profile})")
ax.legend()
run.figure(fig, "p52_corruption_2d")
run.record("002.P5.2", sigma=sigma, measured_noise_std=(noisy2d - clean2d).std().item())

# %% [markdown] tags=["item:002.P6.3"]
# ## 002.P6.3 The CAEs of 002.P6.1 and 002.P6.2 on noisy inputs
#
# ε ~ N(0, 0.3) is read as a **standard deviation** of 0.3 (variance 0.09): pixels lie in [0, 1],
# so σ = 0.3 is strong but leaves digits visible, while a variance of 0.3 (σ ≈ 0.55) would bury them.
# Corrupted pixels are clipped to [0, 1]. Both models are `ConvAutoencoder2D`, the class that
# notebook 02 trains for 002.P6.1 (`skip=False`) and 002.P6.2 (`skip=True`); here each is trained to
# map a noisy digit to its clean original (MSE against the clean digit) through its 2-D code, with
# fresh noise drawn in every batch.

# %% tags=["solution"]
p6_train, p6_test = (d.limited(n, seed) for d, n in zip(load_splits(p6_dataset), (train_limit, test_limit)))
p6_recipe = {"lr": p6_lr, "batch_size": p6_batch, "optimizer": "adamw", "schedule": "onecycle"}
p6_models, p6_hist = {}, {}
for label, skip in {"CAE (P6.1)": False, "CAE + skips (P6.2)": True}.items():
    p6_models[label] = ConvAutoencoder2D(skip=skip)
    p6_hist[label] = fit(
        p6_models[label],
        f"p63_skip{int(skip)}",
        p6_train,
        p6_test,
        p6_epochs,
        corrupt=noise.GaussianNoise(sigma),
        **p6_recipe,
    )
run.figure(
    curves(
        {k: h.epoch for k, h in p6_hist.items()},
        ["train_loss", "test_loss"],
        ylabel="MSE per pixel (vs clean)",
        title=f"002.P6.3 noisy-input CAE losses {run.caption('002.P6.3')}",
    ),
    "p63_curves",
)
p6_trainer = run.trainers["p63_skip0"]
run.record(
    "002.P6.3",
    optimizer=p6_trainer.optimizer_name,
    schedule=p6_trainer.schedule,
    lr=p6_trainer.lr,
    batch_size=p6_trainer.batch_size,
    epochs=p6_trainer.epochs,
)

# %% tags=["remove_input"] jupyter={"source_hidden": true}
names = {"adamw": "AdamW", "adam": "Adam", "onecycle": "one-cycle", "cosine": "cosine", "constant": "constant"}
display(
    Markdown(
        f"Training recipe of both models: MSE against the clean digit, {names[p6_trainer.optimizer_name]} with a "
        f"{names[p6_trainer.schedule]} learning rate peaking at {p6_trainer.lr:g}, batches of {p6_trainer.batch_size}, "
        f"{p6_trainer.epochs} epochs on {len(p6_train):,} digits of {p6_dataset}, noise σ = {sigma}."
    )
)

# %%
p6_noisy, p6_noisy2 = (
    noise.gaussian_noise(p6_test.images, sigma, generator=torch.Generator().manual_seed(seed + k)) for k in (0, 1)
)
p6_out = {k: predict(m, with_images(p6_test, p6_noisy)) for k, m in p6_models.items()}
p6_out2 = {k: predict(m, with_images(p6_test, p6_noisy2)) for k, m in p6_models.items()}
run.figure(
    image_rows(
        {"noisy input": p6_noisy[:12], **{k: v[:12] for k, v in p6_out.items()}, "clean": p6_test.images[:12]},
        f"002.P6.3 reconstructions of noisy digits, σ={sigma} {run.caption('002.P6.3')}",
    ),
    "p63_recon",
)
p6_silhouette = {}
for k, m in p6_models.items():
    z = predict(m, with_images(p6_test, p6_noisy), fn=lambda model, x: model.encode(x)).numpy()
    p6_silhouette[k] = latent_stats(z, p6_test.labels.numpy(), seed=seed)["silhouette"]
    run.figure(
        scatter_2d(
            z,
            p6_test.labels.numpy(),
            p6_test.classes,
            f"002.P6.3 {k}: 2-D codes of noisy test digits {run.caption('002.P6.3')}",
        ),
        f"p63_codes_skip{int(m.skip)}",
    )

# %% [markdown]
# The same noise-level slider for both CAEs (same noise pattern, scaled). As σ grows, does either
# output carry the noise pattern of its input, and which one? The noise gain below measures it at
# the training σ.

# %%
noise_explorer(p6_models, p6_test, sigma, run.caption("002.P6.3"))

# %% [markdown]
# **Measuring how much noise reaches the output.** Each test digit is corrupted twice, independently,
# and the *noise gain* is the slope of the change in the output on the change in the input between
# the two copies (`helpers.noise.noise_gain`, per image): 1 means the noise passes unchanged, as
# through the identity map, 0 means the output does not depend on the noise draw; whatever the output
# computes from the clean digit alone (a blur, a grey background) cancels in both changes, so the
# clipped noise's non-zero mean on the background does not enter it.

# %%
p6_mse_input = noise.per_image_mse(p6_test.images, p6_noisy)  # how far the noisy input is from the clean digit
p6_mse_mean = noise.per_image_mse(p6_test.images, p6_train.images.mean(0, keepdim=True).expand_as(p6_test.images))
p6_mse = {k: noise.per_image_mse(p6_test.images, v) for k, v in p6_out.items()}
p6_gain = {k: noise.noise_gain(p6_out[k], p6_out2[k], p6_noisy, p6_noisy2) for k in p6_models}
err = {
    k: {
        "mse_vs_clean": p6_mse[k].mean().item(),
        "mse_vs_noisy": torch.mean((v - p6_noisy) ** 2).item(),
        "psnr_vs_clean": psnr(p6_test.images, v),
        "noise_gain": p6_gain[k].mean().item(),
    }
    for k, v in p6_out.items()
}
err["noisy input"] = {"mse_vs_clean": p6_mse_input.mean().item(), "psnr_vs_clean": psnr(p6_test.images, p6_noisy)}
err["mean training image"] = {"mse_vs_clean": p6_mse_mean.mean().item()}
display(pd.DataFrame(err).T.round(4))
a, b = err["CAE (P6.1)"], err["CAE + skips (P6.2)"]
run.record(
    "002.P6.3",
    sigma=sigma,
    mse_noskip=a["mse_vs_clean"],
    mse_skip=b["mse_vs_clean"],
    mse_noisy_noskip=a["mse_vs_noisy"],
    mse_noisy_skip=b["mse_vs_noisy"],
    psnr_noskip=a["psnr_vs_clean"],
    psnr_skip=b["psnr_vs_clean"],
    noise_gain_noskip=a["noise_gain"],
    noise_gain_skip=b["noise_gain"],
    psnr_input=err["noisy input"]["psnr_vs_clean"],
    noise_mse=err["noisy input"]["mse_vs_clean"],
    mean_image_mse=err["mean training image"]["mse_vs_clean"],
)

# %% tags=["remove_input", "answer"] jupyter={"source_hidden": true}
n_p6, full_epochs = len(p6_test), load_profiles("04_denoising")["full"].get("p6_epochs", p6_epochs)


def per_image(a_name, a_values, b_name, b_values, key, better="lower", fmt="{:.4f}"):
    """compare() of two per-image means on the same test images; margin: SE of the per-image difference."""
    se = seed_differences(a_values.numpy(), b_values.numpy())[1]  # mean and SE of paired differences
    spread = (se, f"standard error of the per-image difference on {n_p6} test images")
    return compare(a_name, a_values.mean().item(), b_name, b_values.mean().item(), better, spread, fmt=fmt, key=key)


def denoising_lines(k):
    """Model ``k`` against its noisy input and the mean image, and a reading: learnt, or failed with why and the fix."""
    vs_input = per_image(k, p6_mse[k], "its noisy input", p6_mse_input, f"{k}: vs input")
    vs_mean = per_image(k, p6_mse[k], "the mean training image", p6_mse_mean, f"{k}: vs mean image")
    base = next((st for st in (vs_input, vs_mean) if st.outcome != "a"), vs_input)
    loss, other = p6_hist[k].epoch["train_loss"], next(m for m in p6_models if m != k)
    other_learnt = p6_mse[other].mean() < p6_mse_input.mean() and p6_mse[other].mean() < p6_mse_mean.mean()
    underfits = loss[-1] >= 0.95 * err["noisy input"]["mse_vs_clean"]
    failed = (
        f"**Failed:** {k} is no closer to the clean digits than {base.verdict['b']['name']}: it has not learnt "
        f"to denoise. Its training MSE went {loss[0]:.4f} → {loss[-1]:.4f} in {len(loss)} epochs, "
        + (
            f"not 5% below the noisy input's {err['noisy input']['mse_vs_clean']:.4f}: it underfits even its "
            "training digits. "
            if underfits
            else f"below the noisy input's {err['noisy input']['mse_vs_clean']:.4f}, but its test MSE is not: it "
            "fits its training digits only. "
        )
        + (
            f"{other}, trained with the same recipe, is closer to the clean digits than both baselines, so the "
            "limit is this model's: without skips the decoder has only the two numbers of the code to draw a "
            "digit from, and the skips fix it; "
            if other_learnt and not p6_models[k].skip
            else ""
        )
        + f"more optimisation steps help (more epochs: `p6_epochs` is {p6_epochs} here, the `full` profile sets "
        f"{full_epochs})" + ("; more training digits (`train_limit`) fix overfitting." if not underfits else ".")
    )
    verdict = reading(
        base,
        {
            "a": f"{k} is closer to the clean digits than both baselines: it has learnt to denoise.",
            "same": failed,
            "b": failed,
        },
        key=f"{k}: denoises",
    )
    return (
        f"- **{k}**, MSE to the clean digits: "
        + "; ".join(run.verdict("002.P6.3", st) for st in (vs_input, vs_mean))
        + f". {run.verdict('002.P6.3', verdict)}"
    )


skip_key, plain_key = "CAE + skips (P6.2)", "CAE (P6.1)"
lines = [denoising_lines(k) for k in p6_models]
skips_clean = per_image(
    "the CAE with skips", p6_mse[skip_key], "the CAE without skips", p6_mse[plain_key], "skips: distance to clean"
)
skips_noise = per_image(
    "the skip model's noise gain",
    p6_gain[skip_key],
    "the plain CAE's",
    p6_gain[plain_key],
    "skips: noise gain",
    better="neither",
    fmt="{:.3g}",
)
noise_reading = reading(
    skips_noise,
    {
        "a": "The skip model's output follows the input's noise more than the plain CAE's: part of the noise pattern "
        "reaches the output through the skips.",
        "b": "The plain CAE's output follows the input's noise more than the skip model's: the skips do not pass "
        "more of the noise pattern to the output.",
        "same": "Neither model's output follows the input's noise more than the other's, within the margin.",
    },
    key="skips: noise followed",
)
display(
    Markdown(
        f"On noisy {p6_dataset} ({profile}), σ = {sigma}; the noisy inputs themselves are at MSE "
        f"{err['noisy input']['mse_vs_clean']:.4f} from the clean digits, the mean training image at "
        f"{err['mean training image']['mse_vs_clean']:.4f}.\n\n" + "\n".join(lines) + "\n\n"
        f"With against without skips, MSE to the clean digits: {run.verdict('002.P6.3', skips_clean)}. "
        f"Noise gain (noise reaching the output, 0 to 1): {run.verdict('002.P6.3', skips_noise)}. "
        f"{run.verdict('002.P6.3', noise_reading)}\n\n"
        "Why one would expect a difference: two numbers per image leave no room for a 784-pixel noise pattern, so the "
        "plain CAE's output can depend on the noise only through its 2-D code. The skips add the encoder's pooled "
        "feature maps (4×14×14 and 8×7×7) straight into the decoder, a path around the bottleneck along which the "
        "noise, averaged by the pooling and the convolutions, can reach the output. The 2-D codes, silhouette by digit "
        "(higher: more of the digit identity): "
        + run.verdict(
            "002.P6.3",
            compare(
                "with skips",
                p6_silhouette[skip_key],
                "without skips",
                p6_silhouette[plain_key],
                fmt="{:.3f}",
                key="skips: code silhouette",
            ),
        )
        + ". A decoder that leans on the skips leaves the code less to carry, which would show as a lower silhouette."
    )
)

# %% [markdown] tags=["item:none"]
# ## Summary

# %%
metrics = run.finish()
display(Markdown(f"Wall time of this run ({profile}): {metrics['wall_time_s']:.0f} s."))
display(Markdown(summary_table(metrics)))
