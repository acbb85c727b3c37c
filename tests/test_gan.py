"""Notebook 05 (DCGAN, 003.5): model shapes, a GAN step, resume, the Frechet helper, the
Kuzushiji-Kanji downloader against a local HTTP server, and the notebook in smoke."""

from __future__ import annotations

import functools
import http.server
import io
import tarfile
import threading

import numpy as np
import pytest
import torch

from helpers.data import DataError
from helpers.gan_training import adam_pair, gan_step, sample, train_gan
from helpers.kuzushiji import fetch_kanji, load_kanji
from helpers.models.classifiers import SequentialCNN
from helpers.models.gan import Discriminator, Generator
from helpers.sample_scores import feature_stats, frechet_distance, sample_scores


@pytest.mark.parametrize("side", [28, 64])
def test_generator_and_discriminator_shapes(side):
    G, D = Generator(100, side, width=8), Discriminator(side, width=8)
    images = G(torch.randn(5, 100))
    assert images.shape == (5, 1, side, side)
    assert images.min() >= -1 and images.max() <= 1
    assert D(images).shape == (5,)


def test_unsupported_image_size_is_refused():
    with pytest.raises(ValueError, match="28 or 64"):
        Generator(image_size=32)


def test_one_gan_step_changes_both_networks_with_finite_losses():
    torch.manual_seed(0)
    G, D = Generator(16, 28, width=8), Discriminator(28, width=8)
    before_g = [p.detach().clone() for p in G.parameters()]
    before_d = [p.detach().clone() for p in D.parameters()]
    out = gan_step(G, D, *adam_pair(G, D), torch.rand(8, 1, 28, 28) * 2 - 1, torch.randn(8, 16))
    assert all(np.isfinite(v) for v in out.values())
    assert any(not torch.equal(a, b) for a, b in zip(before_g, G.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_d, D.parameters()))


def test_interrupted_gan_training_resumes_to_the_same_result(tmp_path):
    images = torch.rand(64, 1, 28, 28)
    kwargs = dict(batch_size=16, seed=3, show_progress=False, n_fixed=4)

    def pair():
        torch.manual_seed(0)
        return Generator(16, 28, 8), Discriminator(28, 8)

    G1, D1 = pair()
    straight, snaps1 = train_gan(G1, D1, images, 2, store=tmp_path / "a.pt", **kwargs)
    G2, D2 = pair()
    train_gan(G2, D2, images, 1, store=tmp_path / "b.pt", **kwargs)
    G3, D3 = pair()  # a new process builds the same networks; training continues from b
    resumed, snaps3 = train_gan(G3, D3, images, 2, store=tmp_path / "b.pt", **kwargs)
    assert resumed.epochs_done == 2 and len(resumed.batch["d_loss"]) == 8
    np.testing.assert_allclose(resumed.batch["g_loss"], straight.batch["g_loss"], rtol=1e-5)
    assert sorted(snaps3) == [1, 2]
    torch.testing.assert_close(snaps3[2], snaps1[2])


def test_epoch_metrics_are_logged_without_changing_training_and_join_the_identity(tmp_path):
    images = torch.rand(64, 1, 28, 28)
    kwargs = dict(batch_size=16, seed=3, show_progress=False, n_fixed=4)
    noise = torch.randn(8, 16, generator=torch.Generator().manual_seed(1))

    def pair():
        torch.manual_seed(0)
        return Generator(16, 28, 8), Discriminator(28, 8)

    G1, D1 = pair()
    plain, _ = train_gan(G1, D1, images, 2, store=tmp_path / "plain", **kwargs)
    G2, D2 = pair()
    metric = {"mean": lambda g: {"mean": float(sample(g, noise).mean())}, "identity": "mean of 8 samples"}
    tracked, _ = train_gan(
        G2,
        D2,
        images,
        2,
        store=tmp_path / "plain",
        epoch_metrics=metric["mean"],
        epoch_metrics_identity=metric["identity"],
        **kwargs,
    )
    assert len(tracked.epoch["mean"]) == 2 and "mean" not in plain.epoch  # trained afresh: another identity
    np.testing.assert_allclose(tracked.batch["g_loss"], plain.batch["g_loss"], rtol=1e-6)
    with pytest.raises(ValueError, match="identity"):
        train_gan(*pair(), images, 1, epoch_metrics=metric["mean"], **kwargs)


def test_frechet_distance_of_two_known_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, -1.0, 2.0])
    s1, s2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 1.0, 9.0])
    # ||mu1-mu2||^2 + sum (sqrt(a) - sqrt(b))^2 for commuting diagonal covariances
    expected = 5.0 + (1 - 2) ** 2 + (2 - 1) ** 2 + 0.0
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, abs=1e-8)
    rotation = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]
    assert frechet_distance(mu1, rotation @ s1 @ rotation.T, mu1, rotation @ s2 @ rotation.T) == pytest.approx(
        2.0, abs=1e-6
    )
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_from_samples_approaches_the_closed_form():
    rng = np.random.default_rng(1)
    a = rng.normal(0.0, 1.0, size=(20000, 2))
    b = rng.normal(0.0, 2.0, size=(20000, 2)) + [3.0, 0.0]
    assert frechet_distance(*feature_stats(a), *feature_stats(b)) == pytest.approx(9.0 + 2.0, rel=0.03)


def test_frechet_distance_with_singular_covariances_warns_not_and_agrees_with_sqrtm():
    import warnings

    from scipy import linalg

    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(30, 64)), rng.normal(size=(30, 64)) + 0.5  # 30 samples, 64 features: rank 29
    a[:, :10] = 0.0  # and 10 dead features
    stats_a, stats_b = feature_stats(a), feature_stats(b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fd = frechet_distance(*stats_a, *stats_b)
    assert np.isfinite(fd) and fd > 0
    regular_a, regular_b = feature_stats(rng.normal(size=(500, 8))), feature_stats(rng.normal(size=(500, 8)) * 2)
    covmean = np.real(linalg.sqrtm(regular_a[1] @ regular_b[1]))
    reference = (
        np.sum((regular_a[0] - regular_b[0]) ** 2)
        + np.trace(regular_a[1])
        + np.trace(regular_b[1])
        - 2 * np.trace(covmean)
    )
    assert frechet_distance(*regular_a, *regular_b) == pytest.approx(reference, rel=1e-9)
    with pytest.raises(ValueError, match="same dimension"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))


def test_sample_scores_keys_and_histogram():
    torch.manual_seed(0)
    scores = sample_scores(SequentialCNN(width=4), torch.rand(40, 1, 28, 28), torch.rand(30, 1, 28, 28))
    assert set(scores) == {"fd", "confidence", "confidence_se", "classes_covered", "classes_covered_se", "histogram"}
    assert sum(scores["histogram"]) == pytest.approx(1.0, abs=1e-3)
    assert 0.1 <= scores["confidence"] <= 1 and scores["fd"] >= 0
    assert 0 < scores["confidence_se"] < 0.1 and scores["classes_covered_se"] >= 0


def test_coverage_counts_classes_with_half_a_fair_share():
    import numpy as np

    from helpers.sample_scores import coverage

    # 10 classes, 100 predictions: a fair share is 10, half of it 5
    predicted = np.array([0] * 50 + [1] * 30 + [2] * 5 + [3] * 4 + [4] * 11)
    assert coverage(predicted, 10) == 4  # classes 0, 1, 2, 4


def test_fd_to_reference_matches_sample_scores():
    from helpers.sample_scores import fd_to_reference

    torch.manual_seed(0)
    clf, ref, imgs = SequentialCNN(width=4), torch.rand(40, 1, 28, 28), torch.rand(30, 1, 28, 28)
    assert fd_to_reference(clf, ref)(imgs) == pytest.approx(sample_scores(clf, ref, imgs)["fd"])


def _kanji_tar() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for code, count in (("U+4E00", 3), ("U+4E8C", 2)):
            for k in range(count):
                png = io.BytesIO()
                Image.fromarray(np.full((64, 64), 40 * k, dtype=np.uint8)).save(png, "PNG")
                info = tarfile.TarInfo(f"kkanji2/{code}/{k:03d}.png")
                info.size = len(png.getvalue())
                archive.addfile(info, io.BytesIO(png.getvalue()))
    return buffer.getvalue()


@pytest.fixture
def kanji_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "kkanji.tar").write_bytes(_kanji_tar())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_kanji_downloader_fetches_extracts_and_loads(kanji_server, tmp_path):
    folder = fetch_kanji(f"{kanji_server}/kkanji.tar", root=tmp_path / "cache")
    data = load_kanji(folder)
    assert data.images.shape == (5, 1, 64, 64) and data.classes == ("U+4E00", "U+4E8C")
    assert data.labels.tolist() == [0, 0, 0, 1, 1]
    assert float(data.images.max()) == pytest.approx(80 / 255)
    assert not list((tmp_path / "cache").glob("*.part"))
    # a second call reuses the cache and needs no server
    assert fetch_kanji("http://127.0.0.1:9/none.tar", root=tmp_path / "cache") == folder
    assert len(load_kanji(folder, min_per_class=3)) == 3


def test_kanji_downloader_names_the_url_on_failure(kanji_server, tmp_path):
    with pytest.raises(DataError, match="missing.tar"):
        fetch_kanji(f"{kanji_server}/missing.tar", root=tmp_path / "cache")
    assert not (tmp_path / "cache" / "kkanji").exists()
    assert not list((tmp_path / "cache").glob("*.part"))


def test_kanji_split_puts_every_nth_image_of_each_character_in_test_and_the_rest_in_train():
    from helpers.data import ImageDataset
    from helpers.kuzushiji import kanji_split

    labels = torch.tensor([0] * 5 + [1] * 3)
    data = ImageDataset("kuzushiji-kanji", "all", torch.arange(8.0).view(8, 1, 1, 1), labels, ("a", "b"))
    test, train = kanji_split(data, "test", every=2), kanji_split(data, "train", every=2)
    assert test.images.flatten().tolist() == [0, 2, 4, 5, 7] and train.images.flatten().tolist() == [1, 3, 6]
    assert set(test.labels.tolist()) == set(train.labels.tolist()) == {0, 1}
    with pytest.raises(ValueError, match="split"):
        kanji_split(data, "val")


def test_kuzushiji_kanji_is_a_registered_data_set_that_names_its_folder_when_missing(tmp_path):
    from helpers.data import load_dataset

    with pytest.raises(DataError, match="kkanji"):
        load_dataset("kuzushiji-kanji", "train", root=tmp_path, download=False)
