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
# # 03 · Transfer learning — 004.Ex2, 004.Ex4
#
# You will see the assignment's real path (004.Ex2): an ImageNet-pretrained torchvision backbone
# (ResNet-18 and MobileNetV3) on the first 20 classes of Food-101 with three heads, frozen and
# then fine-tuned. It needs internet (weights and Food-101), so it runs only in the `full`
# profile; in `default` its code is shown with a note. What runs here is an offline transfer
# study with the same strategies: a CNN pretrained on all of Fashion-MNIST, transferred to
# notMNIST-10k letters and mnist-10k digits with few labels. Last, the review questions (004.Ex4).
# The small-scale cousins are in notebook 02: AE-pretrained fine-tuning with 100 labels (000.5) and a
# classifier on the frozen conv layers of an autoencoder (003.3).

# %% tags=["parameters"]
profile = "default"  # smoke | default | full
seed = 0
source_dataset = "fashion-mnist"  # pretraining data of the offline study (all 60k images)
target_datasets = ["notmnist-10k", "mnist-10k"]
source_limit = 0  # 0 keeps every training image; N a balanced subset (smoke)
pretrain_epochs = 1
width = 16  # SequentialCNN width (16 keeps the CPU cost low)
budgets = [10, 100, 600]  # labels per class (mnist-10k has only 663 of its rarest digit)
seeds = [0, 1]
steps = 100  # optimizer steps per transfer run (epochs derived from it)
test_limit = 0  # 0 keeps every target test image
run_pretrained = False  # True only with internet (full): Food-101 and ImageNet weights
backbones = ["resnet18", "mobilenet_v3_large"]
heads = ["linear", "mlp", "mlp2"]
head_epochs = 10
finetune_epochs = 3

# %%
import functools
import json
import time

import pandas as pd
from IPython.display import Markdown, display

from helpers.checkpoint import data_identity, state_fingerprint
from helpers.data import food101_subset, load_splits
from helpers.models.backbones import Backbone, make_head, parameter_groups, unfreeze_last_block
from helpers.models.classifiers import SequentialCNN
from helpers.models.composite import EncoderHead
from helpers.notebook import start_notebook, summary_table
from helpers.statements import reading
from helpers.training import Trainer, count_parameters
from helpers.transfer import (
    STRATEGIES,
    best_strategy,
    compare_strategies,
    loader_features,
    study_plot,
    study_table,
    transfer_study,
)

run = start_notebook(
    "03_transfer_learning",
    globals(),
    datasets={"004.Ex2": "food101-20", "source": "source_dataset", "study": "target_datasets"},
)

# %% [markdown] tags=["item:004.Ex2"]
# ## 004.Ex2 ImageNet backbones on Food-101 (20 classes)
#
# Backbones come from torchvision's `weights=` API (`helpers.models.backbones.Backbone`):
# **ResNet-18** (11.7 M parameters, 512 features: the standard residual reference) and
# **MobileNetV3-Large** (5.5 M, 960 features: built for phones, about 4x fewer multiply-adds, so
# it suits a CPU). Each brings its own preprocessing, `weights.transforms()` (resize 256, centre
# crop 224, ImageNet mean/std). Food-101 is restricted to classes 0-19 by class index
# (`helpers.data.food101_subset`: 750 train and 250 test images per class, the data set's own split).
# Frozen-backbone heads train on features computed **once** and cached: each head epoch then
# costs a matrix product instead of a pass through the backbone (the saving is measured below).

# %% jupyter={"source_hidden": true} tags=["remove_input"]
if not run_pretrained:
    display(
        Markdown(
            "> **Needs internet** (ImageNet weights into `TORCH_HOME`, Food-101 into `data/`): "
            f"skipped in the `{profile}` profile. Run the `full` profile on a machine with a "
            "network; the code below is the real path, tested offline with `weights=None`."
        )
    )


# %% tags=["solution"]
def food_features(name):
    """Backbone, cached train/test features of Food-101-20 and the time that took."""
    backbone = Backbone(name, weights="DEFAULT")
    train, test = (food101_subset(s, transform=backbone.transforms()) for s in ("train", "test"))
    t0 = time.perf_counter()
    cached = {s: loader_features(backbone, d, device=run.device) for s, d in (("train", train), ("test", test))}
    return backbone, train, test, cached, time.perf_counter() - t0


# %%
ex2_rows = []
for name in backbones if run_pretrained else []:
    backbone, food_train, food_test, cached, feature_time = food_features(name)
    for head_kind in heads:
        head = make_head(head_kind, backbone.out_features, 20)
        trainer = Trainer(epochs=head_epochs, lr=1e-3, batch_size=128, seed=seed, device=run.device, name=head_kind)
        h = trainer.fit(head, cached["train"], cached["test"])
        ex2_rows.append(
            {
                "backbone": name,
                "head": head_kind,
                "backbone state": "frozen",
                "params trained": count_parameters(head),
                "epochs": head_epochs,
                "time s": h.last("time_s"),
                "feature pass s": feature_time,
                "uncached estimate s": feature_time * head_epochs,  # a backbone pass every epoch
                "train acc": h.last("train_acc"),
                "test acc": h.last("test_acc"),
            }
        )

# %% [markdown]
# Fine-tuning: the best head, the backbone's last block unfrozen (`layer4` of ResNet-18, the
# last conv stage of MobileNetV3) at a tenth of the head's learning rate. This one cannot use
# the cache, since the features change: every epoch goes through the whole network.

# %%
for name in backbones if run_pretrained else []:
    best = max((r for r in ex2_rows if r["backbone"] == name), key=lambda r: r["test acc"])["head"]
    backbone = Backbone(name, weights="DEFAULT")
    model = EncoderHead(backbone, make_head(best, backbone.out_features, 20), flatten=True)
    unfreeze_last_block(backbone)
    train, test = (food101_subset(s, transform=backbone.transforms()) for s in ("train", "test"))
    h = Trainer(
        epochs=finetune_epochs,
        lr=1e-3,
        batch_size=64,
        seed=seed,
        device=run.device,
        name=f"{name} fine-tune",
        parameter_groups=functools.partial(parameter_groups, lr=1e-3, backbone_factor=0.1),
    ).fit(model, train, test)
    ex2_rows.append(
        {
            "backbone": name,
            "head": best,
            "backbone state": "last block fine-tuned",
            "params trained": count_parameters(model),
            "epochs": finetune_epochs,
            "time s": h.last("time_s"),
            "train acc": h.last("train_acc"),
            "test acc": h.last("test_acc"),
        }
    )

# %%
if ex2_rows:
    ex2 = pd.DataFrame(ex2_rows)
    best_row = ex2.loc[ex2["test acc"].idxmax()]
    run.record("004.Ex2", best_test_acc=float(best_row["test acc"]), best=f"{best_row['backbone']}+{best_row['head']}")
    display(ex2.round(3))
    frozen = ex2[ex2["backbone state"] == "frozen"]
    display(
        Markdown(
            f"Caching saved about {(frozen['uncached estimate s'] - frozen['feature pass s']).sum():.0f} s "
            f"over {len(frozen)} frozen-head runs (one backbone pass instead of {head_epochs} per head)."
        )
    )
else:
    display(Markdown(f"*No Food-101 results in the `{profile}` profile (needs internet).*"))

# %% [markdown] tags=["item:004.Ex2"]
# ## 004.Ex2 (offline) Transfer from Fashion-MNIST to letters and digits
#
# The same four strategies at a scale that runs here: `SequentialCNN` (from notebook 01,
# `features` + `head`) pretrained on the whole Fashion-MNIST training set, then moved to
# notMNIST-10k (letters A-J) and mnist-10k (digits) with 10, 100 or 600 labels per class:
# **frozen+linear** and **frozen+MLP** (heads on cached features), **fine-tune** (all weights,
# new head) and **scratch** (same network, random start). Every run takes the same number of
# optimizer steps; numbers are means over the seeds, all on each target's whole test set. In
# `default` pretraining is short to fit the CPU budget; `full` pretrains longer.

# %%
source_train, source_test = load_splits(source_dataset)
if source_limit:
    source_train = source_train.per_class(source_limit // 10, seed)
pretrained = SequentialCNN(width=width)
pre_trainer = Trainer(
    epochs=pretrain_epochs,
    lr=2e-3,
    batch_size=128,
    seed=seed,
    device=run.device,
    store=run.store("pretrain_fashion"),
    name="pretrain",
)
pre_history = pre_trainer.fit(pretrained, source_train, source_test)
run.record("source", pretrain_test_acc=pre_history.last("test_acc"), pretrain_time_s=pre_history.last("time_s"))
print(
    f"{source_dataset}: test accuracy {pre_history.last('test_acc'):.3f} after "
    f"{pretrain_epochs} epoch(s), {pre_history.last('time_s'):.0f} s"
)

# %%
targets = {}
for name in target_datasets:
    train, test = load_splits(name)
    targets[name] = (train, test.per_class(test_limit // 10, seed) if test_limit else test)


def study():
    """Every run of the study: its rows and its training time (stored; a rerun reuses them)."""
    t0 = time.perf_counter()
    rows = transfer_study(
        pretrained, lambda: SequentialCNN(width=width), targets, budgets, seeds, steps=steps, device=run.device
    )
    return {"rows": json.loads(rows.to_json(orient="records")), "time_s": time.perf_counter() - t0}


stored_study = run.stored(
    "study",
    {
        "pretrained": state_fingerprint(pretrained),
        "model": f"SequentialCNN(width={width})",
        "targets": {name: [data_identity(train), data_identity(test)] for name, (train, test) in targets.items()},
        "budgets": budgets,
        "seeds": seeds,
        "steps": steps,
        "strategies": STRATEGIES,
        "per_run": "test accuracy and per-image right/wrong on the test set (packed bits)",
    },
    study,
)
results, study_time = pd.DataFrame(stored_study["rows"]), stored_study["time_s"]
table = study_table(results)
table.round(3)

# %%
run.figure(
    study_plot(results, f"Test accuracy vs labels per class, pretrained on {source_dataset} {run.caption('study')}"),
    "004_Ex2_transfer_study",
)
for (target, strategy), row in table.iterrows():
    run.record(f"study.{target}", **{f"{strategy}@{b}": float(v) for b, v in row.items()})
run.record("study", time_s=study_time, runs=len(results))

# %% [markdown]
# How to read it: frozen features carry only what the source task made them encode. Fashion-MNIST
# teaches edges, blobs and textures of clothes silhouettes; letters and digits are thin strokes. So
# one expects a frozen head to recover only part of the target task and to gain little from more
# labels, fine-tuning to keep the useful low-level filters and adapt the rest, and scratch to need
# the most labels. Each line below tests two of these expectations with this run's numbers: fine-tune
# against scratch with the fewest labels (did anything transfer?) and fine-tune against the frozen
# linear head with the most (how far are the source features from the target task?).

# %% tags=["remove_input"] jupyter={"source_hidden": true}
lo, hi = min(budgets), max(budgets)
lines = []
for target in target_datasets:
    item = f"study.{target}"
    best = best_strategy(results, target, lo, key=f"best_at_{lo}")
    transfer_lo = compare_strategies(results, target, lo, "fine-tune", "scratch", f"finetune_vs_scratch_at_{lo}")
    transfer_hi = compare_strategies(results, target, hi, "fine-tune", "scratch", f"finetune_vs_scratch_at_{hi}")
    unfreeze = compare_strategies(results, target, hi, "fine-tune", "frozen+linear", f"finetune_vs_frozen_at_{hi}")
    transferred = reading(
        transfer_lo,
        {
            "a": f"with {lo} labels per class fine-tuning from the {source_dataset} weights ends ahead of the same "
            "network trained from random weights: something useful transferred.",
            "same": f"with {lo} labels per class fine-tuning from the {source_dataset} weights and training from "
            "scratch end within the noise of each other: no measurable transfer.",
            "b": f"with {lo} labels per class training from scratch beats fine-tuning from the "
            f"{source_dataset} weights: the {source_dataset} features hinder the target task (negative transfer).",
        },
        key=f"transfer_reading_at_{lo}",
    )
    distance = reading(
        unfreeze,
        {
            "a": f"with {hi} labels per class unfreezing pays off: the frozen {source_dataset} features miss part of what "
            f"{target} needs.",
            "same": f"with {hi} labels per class unfreezing makes no measurable difference: the frozen "
            f"{source_dataset} features already hold what a linear head needs for {target}.",
            "b": f"with {hi} labels per class the frozen linear head beats fine-tuning: in the same {steps} "
            "optimizer steps, training every weight did not reach the frozen head's accuracy.",
        },
        key=f"unfreeze_reading_at_{hi}",
    )
    lines.append(
        f"- **{target}**, {lo} labels per class: {run.verdict(item, best)}; transfer against scratch: "
        f"{run.verdict(item, transfer_lo)}. So {run.verdict(item, transferred)} With {hi} labels per class: "
        f"{run.verdict(item, transfer_hi)}; unfreezing: {run.verdict(item, unfreeze)}. So "
        f"{run.verdict(item, distance)}"
    )
display(
    Markdown(
        "Each line compares mean test accuracies over the seeds, all on the same test images; a gap counts only "
        "beyond twice the standard error of the difference, which combines the spread of the per-seed differences "
        "with the paired per-image noise of the test set.\n\n" + "\n".join(lines)
    )
)

# %% [markdown] tags=["item:004.Ex4", "answer"]
# ## 004.Ex4 Review questions
#
# **a) Why (or when) do we need the functional API of Keras?** When the network is not a plain
# chain: several inputs or outputs, branches that are merged, skip connections, shared layers.
# The PyTorch equivalent is simply a `forward` method that is not a sequence of calls: notebook
# 01's `InceptionCNN` (parallel paths concatenated) and `ResidualCNN` (`x + f(x)`), and here
# `EncoderHead.forward`, which chains a backbone and a head, and the study's use of
# `model.features` alone as a feature extractor.
#
# **b) Benefits of transfer learning.** Good accuracy with few labels and little compute: the
# backbone's features were paid for on a large data set. This run's evidence: the "transfer
# against scratch" comparisons at the smallest label budget in the study's lines above.
#
# **c) Freezing, and the influence of the data-set size.** Freezing sets `requires_grad=False`
# (and keeps batch-norm statistics fixed) so the layers act as a fixed feature extractor; only
# the head learns (a test of this workbook checks that the backbone's weights, batch-norm
# statistics included, are unchanged after a training step). With few labels, freezing avoids overfitting and is cheap (cached features);
# with more labels, unfreezing (the last block first, at a lower learning rate) is expected to pay
# off, the more so when source and target differ (letters vs clothes); whether it does here is the
# "unfreezing" comparison in the study's lines above (generated from this run's numbers).
#
# **d) Uses of auto-encoders.** Compression / dimension reduction, denoising, anomaly detection
# (high reconstruction error), pretraining of encoders, generating or interpolating (VAEs):
# notebooks 02 and 04.
#
# **e) Auto-encoders to extract features**: when unlabelled data are plentiful and labels are
# few, and no pretrained network fits the domain (notebook 02's classifier on frozen AE layers, 003.3,
# and notebook 04's SVM on a denoising AE's codes, 004.Ex3 g).
#
# **f) Principles of self-supervised learning.** Make labels from the data themselves with a
# pretext task (predict a masked part, the rotation, the next token; or contrastive learning:
# two augmentations of one image should map close together, other images far away), train on
# lots of unlabelled data, then reuse the encoder with a small labelled set.
#
# **g) Auto-encoder or self-supervised instead of a pretrained network**: when the domain is
# far from ImageNet (medical, satellite, spectrograms, characters: the clothes-to-letters
# transfer above is a small example of a mismatch), when the input is not 3-channel natural
# images, when licences or privacy exclude outside weights, or when plenty of unlabelled
# in-domain data exist.

# %% [markdown] tags=["item:none"]
# ## Summary

# %%
metrics = run.finish()
display(Markdown(summary_table(metrics)))
