"""Sample scores for generators: Frechet distance in a classifier's feature space, classifier
confidence and the class histogram of samples (mode coverage) (introduced in 05)."""

from __future__ import annotations

import numpy as np
import torch
from scipy import linalg
from torch import nn

from .training import evaluating


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2) (05)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, float)), np.atleast_1d(np.asarray(mu2, float))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, float)), np.atleast_2d(np.asarray(sigma2, float))
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(sigma1)) * 1e-6
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def feature_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of an N x D feature matrix (05)."""
    f = np.asarray(features, dtype=np.float64)
    return f.mean(0), np.cov(f, rowvar=False)


def features_and_logits(classifier: nn.Module, images: torch.Tensor, batch_size: int = 500):
    """Penultimate features and logits of a ``features``/``head`` classifier (SequentialCNN) (05)."""
    device = next(classifier.parameters()).device
    with evaluating(classifier):
        feats = torch.cat([classifier.features(images[i:i + batch_size].to(device)).flatten(1).cpu()
                           for i in range(0, len(images), batch_size)])
        logits = torch.cat([classifier.head(feats[i:i + batch_size].to(device)).cpu()
                            for i in range(0, len(feats), batch_size)])
    return feats, logits


def sample_scores(classifier: nn.Module, reference: torch.Tensor, samples: torch.Tensor,
                  n_classes: int = 10) -> dict:
    """FD of ``samples`` to ``reference`` images, mean confidence, class histogram and coverage (05)."""
    ref_feats, _ = features_and_logits(classifier, reference)
    feats, logits = features_and_logits(classifier, samples)
    probs = logits.softmax(1)
    histogram = np.bincount(probs.argmax(1).numpy(), minlength=n_classes) / len(samples)
    return {"fd": frechet_distance(*feature_stats(ref_feats.numpy()), *feature_stats(feats.numpy())),
            "confidence": float(probs.max(1).values.mean()),
            "classes_covered": int((histogram >= 0.5 / n_classes).sum()),
            "histogram": histogram.round(4).tolist()}
