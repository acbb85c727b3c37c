"""Kuzushiji-Kanji: download its tar archive into the data cache and read it (introduced in 05).

The archive (``kkanji.tar``, ~300 MB, codh.rois.ac.jp) holds ``kkanji2/U+XXXX/*.png``: 64x64 grey
images, one folder per character. ``fetch_kanji`` downloads atomically (temporary file + rename)
and extracts with tarfile's ``data`` filter; ``load_kanji`` reads the classes with at least
``min_per_class`` images into an ``ImageDataset``. Registered as the data set ``kuzushiji-kanji``
(``load_kanji_split``: characters with at least 100 images, resized to 28x28, every 10th image a
test image), the
data the assignment names for 003.5; Kuzushiji-MNIST (10 hiragana, 28x28) stays available as ``kmnist``.
"""

from __future__ import annotations

import functools
import os
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
import torch

from .data import DataError, ImageDataset
from .paths import data_root

KANJI_URL = "http://codh.rois.ac.jp/kmnist/dataset/kkanji/kkanji.tar"


def fetch_kanji(url: str = KANJI_URL, root: str | Path | None = None, timeout: float = 60) -> Path:
    """Download and extract the Kuzushiji-Kanji archive into ``root/kkanji`` unless present (05)."""
    folder = Path(root or data_root()) / "kkanji"
    if folder.is_dir() and any(folder.iterdir()):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".tar.part", dir=folder.parent)
    try:
        with os.fdopen(handle, "wb") as stream, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, stream)
        staging = Path(tempfile.mkdtemp(prefix=".kkanji.", dir=folder.parent))
        with tarfile.open(temporary) as archive:
            archive.extractall(staging, filter="data")
        os.replace(staging, folder)
    except (OSError, tarfile.TarError) as error:
        raise DataError(
            f"could not fetch Kuzushiji-Kanji from {url}: {error}. Download it by hand and extract it into {folder}"
        ) from error
    finally:
        Path(temporary).unlink(missing_ok=True)
    return folder


def load_kanji(folder: str | Path, min_per_class: int = 1, image_size: int = 64) -> ImageDataset:
    """Read ``*/U+XXXX/*.png`` images under ``folder`` into one ``ImageDataset`` (05)."""
    from PIL import Image

    class_dirs = sorted({p.parent for p in Path(folder).rglob("*.png")})
    class_dirs = [d for d in class_dirs if len(list(d.glob("*.png"))) >= min_per_class]
    if not class_dirs:
        raise DataError(f"no Kuzushiji-Kanji PNG images under {folder}")
    images, labels = [], []
    for k, d in enumerate(class_dirs):
        for png in sorted(d.glob("*.png")):
            image = Image.open(png).convert("L").resize((image_size, image_size))
            images.append(np.asarray(image, dtype=np.float32) / 255.0)
            labels.append(k)
    return ImageDataset(
        "kkanji",
        "train",
        torch.from_numpy(np.stack(images))[:, None],
        torch.tensor(labels),
        tuple(d.name for d in class_dirs),
    )


KANJI_MIN_PER_CLASS = 100  # the full set has 3,832 characters, most with a handful of images
KANJI_TEST_EVERY = 10  # every 10th image of a character (in file order) is a test image
KANJI_SIDE = 28  # resized from 64 so 05's 28x28 generator, scorer and autoencoder apply unchanged


@functools.lru_cache(maxsize=2)
def _kanji_cached(folder: str, min_per_class: int) -> ImageDataset:
    return load_kanji(folder, min_per_class, image_size=KANJI_SIDE)


def kanji_split(data: ImageDataset, split: str, every: int = KANJI_TEST_EVERY) -> ImageDataset:
    """The ``train`` or ``test`` part of a Kuzushiji-Kanji set: every ``every``-th image of each
    character (in file order) is a test image, so both parts hold every character (05)."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; use 'train' or 'test'")
    rank = torch.zeros(len(data), dtype=torch.long)
    for cls in torch.unique(data.labels).tolist():
        members = torch.nonzero(data.labels == cls).flatten()
        rank[members] = torch.arange(len(members))
    is_test = rank % every == 0
    return data.subset(torch.nonzero(is_test if split == "test" else ~is_test).flatten(), split)


def load_kanji_split(spec, split: str, root: Path, download: bool) -> ImageDataset:
    """Registry loader of ``kuzushiji-kanji``: characters with at least ``KANJI_MIN_PER_CLASS`` images,
    resized to 28x28, split by ``kanji_split`` (05's ``full`` profile)."""
    folder = root / "kkanji"
    if download:
        folder = fetch_kanji(root=root)
    elif not folder.is_dir():
        raise DataError(
            f"Kuzushiji-Kanji is not in {folder}; run with downloads on, or fetch {KANJI_URL} and extract it there"
        )
    data = _kanji_cached(str(folder), KANJI_MIN_PER_CLASS)
    return kanji_split(ImageDataset(spec.name, "all", data.images, data.labels, data.classes), split)
