"""Sample scores for generators: Frechet distance in a classifier's feature space, classifier
confidence and the class histogram of samples (mode coverage) (introduced in 05)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .training import evaluating


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a covariance matrix (eigenvalues below 0 from round-off set to 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2) (05).

    ``tr((sigma1 sigma2)^(1/2))`` is computed as ``tr((s sigma2 s)^(1/2))`` with ``s = sigma1^(1/2)``:
    the same trace (similar matrices), but of a symmetric positive semi-definite matrix, so an
    eigendecomposition gives it exactly. ``scipy.linalg.sqrtm`` of the non-symmetric product
    warns (``LinAlgWarning``) and loses accuracy whenever a covariance is singular, which it is
    as soon as some features are always zero (dead ReLUs) or there are fewer samples than features.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, float)), np.atleast_1d(np.asarray(mu2, float))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, float)), np.atleast_2d(np.asarray(sigma2, float))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (len(mu1), len(mu1)):
        raise ValueError(
            f"means {mu1.shape}, {mu2.shape} and covariances {sigma1.shape}, {sigma2.shape} "
            "must describe Gaussians of the same dimension"
        )
    root = _psd_sqrt(sigma1)
    middle = root @ sigma2 @ root
    trace_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_covmean)


def feature_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of an N x D feature matrix (05)."""
    f = np.asarray(features, dtype=np.float64)
    return f.mean(0), np.cov(f, rowvar=False)


def features_and_logits(classifier: nn.Module, images: torch.Tensor, batch_size: int = 500):
    """Penultimate features and logits of a ``features``/``head`` classifier (SequentialCNN) (05)."""
    device = next(classifier.parameters()).device
    with evaluating(classifier):
        feats = torch.cat(
            [
                classifier.features(images[i : i + batch_size].to(device)).flatten(1).cpu()
                for i in range(0, len(images), batch_size)
            ]
        )
        logits = torch.cat(
            [classifier.head(feats[i : i + batch_size].to(device)).cpu() for i in range(0, len(feats), batch_size)]
        )
    return feats, logits


def coverage(predicted: np.ndarray, n_classes: int) -> int:
    """Classes that get at least half their fair share (``0.5 / n_classes``) of the predictions (05)."""
    return int((np.bincount(predicted, minlength=n_classes) >= 0.5 * len(predicted) / n_classes).sum())


def sample_scores(
    classifier: nn.Module, reference: torch.Tensor, samples: torch.Tensor, n_classes: int = 10, resamples: int = 200
) -> dict:
    """FD of ``samples`` to ``reference`` images, mean confidence (with its standard error over the
    samples), class histogram and coverage (with its bootstrap standard error: ``resamples`` draws of
    the samples with replacement, a fixed generator) (05)."""
    ref_feats, _ = features_and_logits(classifier, reference)
    feats, logits = features_and_logits(classifier, samples)
    probs = logits.softmax(1)
    predicted = probs.argmax(1).numpy()
    histogram = np.bincount(predicted, minlength=n_classes) / len(samples)
    draws = np.random.default_rng(0).integers(0, len(predicted), (resamples, len(predicted)))
    confidence = probs.max(1).values.double()
    return {
        "fd": frechet_distance(*feature_stats(ref_feats.numpy()), *feature_stats(feats.numpy())),
        "confidence": float(confidence.mean()),
        "confidence_se": float(confidence.std() / np.sqrt(len(confidence))),
        "classes_covered": coverage(predicted, n_classes),
        "classes_covered_se": float(np.std([coverage(predicted[i], n_classes) for i in draws], ddof=1)),
        "histogram": histogram.round(4).tolist(),
    }


def fd_to_reference(classifier: nn.Module, reference: torch.Tensor):
    """A function ``images -> FD to reference`` with the reference's feature statistics computed once:
    the per-epoch FD of the GAN's samples in 05's training loop."""
    ref_stats = feature_stats(features_and_logits(classifier, reference)[0].numpy())

    def fd(images: torch.Tensor) -> float:
        return frechet_distance(*ref_stats, *feature_stats(features_and_logits(classifier, images)[0].numpy()))

    return fd
