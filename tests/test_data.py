"""Data loading: the registry, idx validation (every corrupt-file case), batches and samplers."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from helpers.data import (
    Batches,
    DataError,
    class_subset_indices,
    load_dataset,
    load_splits,
    per_class_indices,
    read_idx,
    read_idx_pair,
)


def write_idx(path, array: np.ndarray, compress: bool = False, magic: bytes | None = None) -> None:
    header = (magic or bytes([0, 0, 0x08, array.ndim])) + b"".join(struct.pack(">I", d) for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)


@pytest.mark.parametrize(
    "name, n_train, n_test", [("mnist-10k", 8000, 2000), ("notmnist-10k", 8000, 2000), ("fashion-mnist", 60000, 10000)]
)
def test_embedded_sets_load_with_shapes_ranges_and_all_classes(name, n_train, n_test):
    train, test = load_splits(name, download=False)
    assert (len(train), len(test)) == (n_train, n_test)
    assert train.images.shape[1:] == (1, 28, 28) and train.images.dtype == torch.float32
    assert 0.0 <= train.images.min() and train.images.max() <= 1.0 and train.images.max() > 0.9
    assert sorted(torch.unique(test.labels).tolist()) == list(range(10))
    assert train.name == name and len(train.classes) == 10


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(DataError, match="unknown data set 'cifar100'.*mnist-10k"):
        load_dataset("cifar100")


def test_plain_and_gzipped_idx_read_the_same(tmp_path):
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    write_idx(tmp_path / "a", array)
    write_idx(tmp_path / "a.gz", array, compress=True)
    assert np.array_equal(read_idx(tmp_path / "a"), array)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), array)


def test_wrong_magic_number_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, np.zeros((2, 3, 3)), magic=b"\x1f\x8b\x08\x03")
    with pytest.raises(DataError, match=f"{path}.*magic number"):
        read_idx(path)


def test_truncated_idx_file_names_the_file(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte"
    write_idx(path, np.zeros((5, 4, 4)))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match=f"truncated data file: {path}"):
        read_idx(path)


def test_truncated_gzip_names_the_file(tmp_path):
    path = tmp_path / "x.gz"
    write_idx(path, np.zeros((50, 8, 8)), compress=True)
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(DataError, match=f"corrupt data file: {path}"):
        read_idx(path)


def test_trailing_bytes_are_refused(tmp_path):
    path = tmp_path / "x"
    write_idx(path, np.zeros((2, 2, 2)))
    path.write_bytes(path.read_bytes() + b"junk")
    with pytest.raises(DataError, match="beyond"):
        read_idx(path)


def test_image_label_count_mismatch_names_both_files(tmp_path):
    write_idx(tmp_path / "img", np.zeros((5, 4, 4)))
    write_idx(tmp_path / "lab", np.zeros(4))
    with pytest.raises(DataError, match="count mismatch.*img.*5 images.*lab.*4 labels"):
        read_idx_pair(tmp_path / "img", tmp_path / "lab")


def test_missing_file_in_cache_says_how_to_fetch(tmp_path):
    with pytest.raises(DataError, match="missing data file"):
        load_dataset("mnist-10k", root=tmp_path, download=False)
    with pytest.raises(DataError, match="helpers.data fetch notmnist"):
        load_dataset("notmnist", root=tmp_path, download=False)


def test_offline_download_failure_names_source_and_fix(tmp_path, monkeypatch):
    import torchvision.datasets.utils as utils

    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(utils, "download_url", no_network)
    with pytest.raises(DataError, match="could not download data set 'notmnist'.*notMNIST-to-MNIST.*fetch notmnist"):
        load_dataset("notmnist", root=tmp_path)


def test_per_class_sampler_is_balanced_and_seed_stable():
    labels = torch.arange(1000) % 10
    a, b, c = (
        per_class_indices(labels, 7, seed=1),
        per_class_indices(labels, 7, seed=1),
        per_class_indices(labels, 7, seed=2),
    )
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.bincount(labels[a]).tolist() == [7] * 10
    assert len(set(a.tolist())) == 70


def test_per_class_sampler_refuses_too_few():
    with pytest.raises(ValueError, match="class 1 has only 2"):
        per_class_indices(torch.tensor([0, 0, 0, 1, 1]), 3)


def test_assignment_subsets_from_real_mnist_10k():
    train, test = load_splits("mnist-10k", download=False)
    small_train, small_test, labelled = train.per_class(100), test.per_class(10), train.per_class(10, seed=3)
    assert len(small_train) == 1000 and len(small_test) == 100 and len(labelled) == 100
    assert torch.bincount(labelled.labels).tolist() == [10] * 10
    assert small_train.name == "mnist-10k" and "100/class" in small_train.split


def test_batches_cover_every_example_once_per_epoch_and_reshuffle():
    x, y = torch.arange(10).float(), torch.arange(10)
    batches = Batches(x, y, batch_size=3, seed=0)
    first = torch.cat([b[1] for b in batches])
    second = torch.cat([b[1] for b in batches])
    assert sorted(first.tolist()) == list(range(10)) == sorted(second.tolist())
    assert not torch.equal(first, second) and len(batches) == 4
    batches.set_epoch(0)
    assert torch.equal(torch.cat([b[1] for b in batches]), first)


def test_class_subset_keeps_the_chosen_classes_and_relabels_them_in_order():
    targets = [5, 0, 19, 20, 3, 100, 0, 19]
    indices, label_map = class_subset_indices(targets, range(20))
    assert indices == [0, 1, 2, 4, 6, 7]
    assert [label_map[targets[i]] for i in indices] == [5, 0, 19, 3, 0, 19]
    indices, label_map = class_subset_indices(targets, [19, 0])
    assert indices == [1, 2, 6, 7] and label_map == {19: 0, 0: 1}


def test_command_line_lists_and_checks_the_embedded_sets(capsys):
    from helpers.data import main

    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "mnist-10k" in listing and "embedded" in listing and "cifar10" in listing and "download" in listing
    assert main(["check", "mnist-10k"]) == 0
    assert "mnist-10k: ok, 8000 train / 2000 test" in capsys.readouterr().out


def embedded_copy(
    tmp_path, images: np.ndarray | None = None, labels: np.ndarray | None = None, images_magic: bytes | None = None
):
    """A data cache with a small ``mnist-10k`` whose files the test can spoil, in the real idx layout."""
    folder = tmp_path / "mnist-10k"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 28, 28)) if images is None else images
    labels = np.arange(20) % 10 if labels is None else labels
    for image_file, label_file in {
        "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }.values():
        write_idx(folder / image_file, images, magic=images_magic)
        write_idx(folder / label_file, labels)
    return folder


def test_labels_outside_the_class_list_are_refused_by_the_loader_and_by_check(tmp_path, monkeypatch, capsys):
    from helpers.data import main

    embedded_copy(tmp_path, labels=np.array([0, 1, 2, 12] + [3] * 16))
    with pytest.raises(
        DataError,
        match=r"labels out of range: .*train-labels-idx1-ubyte holds 1 label\(s\) outside "
        r"0..9 \(the first, 12, at index 3\)",
    ):
        load_dataset("mnist-10k", root=tmp_path, download=False)
    monkeypatch.setenv("WORKBOOK_DATA", str(tmp_path))
    assert main(["check", "mnist-10k"]) == 1
    assert "labels out of range" in capsys.readouterr().err


def test_a_labels_file_in_place_of_the_images_is_named_a_wrong_magic_number(tmp_path):
    folder = embedded_copy(tmp_path)
    write_idx(folder / "train-images-idx3-ubyte", np.arange(20) % 10)  # labels magic 0x00000801
    with pytest.raises(
        DataError,
        match=r"wrong magic number: .*train-images-idx3-ubyte has 0x00000801.*"
        r"an idx images file has 0x00000803",
    ):
        load_dataset("mnist-10k", root=tmp_path, download=False)


def test_images_of_the_wrong_size_are_named_as_such(tmp_path):
    embedded_copy(tmp_path, images=np.zeros((20, 32, 32)))
    with pytest.raises(DataError, match=r"wrong image size: .*holds 32x32 images; this data set's images are 28x28"):
        load_dataset("mnist-10k", root=tmp_path, download=False)


def test_empty_and_html_files_are_named_as_such(tmp_path):
    folder = embedded_copy(tmp_path)
    (folder / "train-labels-idx1-ubyte").write_bytes(b"")
    with pytest.raises(DataError, match="empty data file: .*train-labels-idx1-ubyte is 0 bytes"):
        load_dataset("mnist-10k", root=tmp_path, download=False)
    (folder / "train-labels-idx1-ubyte").write_bytes(b"<!DOCTYPE html><html><body>Rate limit</body></html>")
    with pytest.raises(DataError, match="is an HTML page, not an idx file"):
        load_dataset("mnist-10k", root=tmp_path, download=False)


def test_a_valid_small_copy_loads(tmp_path):
    embedded_copy(tmp_path)
    train = load_dataset("mnist-10k", root=tmp_path, download=False)
    assert len(train) == 20 and train.images.shape == (20, 1, 28, 28)


def test_fashion_groups_partition_the_fashion_mnist_classes():
    from helpers.data import FASHION_CLASSES, FASHION_GROUPS

    members = [c for group in FASHION_GROUPS.values() for c in group]
    assert sorted(members) == sorted(FASHION_CLASSES)
    assert "Sandal" in FASHION_GROUPS["footwear"] and "Sandal" not in FASHION_GROUPS["upper-body garments"]
