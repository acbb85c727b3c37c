"""Numbers on latent spaces: class spread, separation, principal angles, random codes (introduced in 02).

Used by 02 (000.3 AE vs classifier latents, 002.P5.3 PCA vs linear AE, 003.4 random codes) and
available to 04/05.
"""

from __future__ import annotations

import numpy as np
import torch


def unit_rms(codes) -> np.ndarray:
    """Codes centred and scaled to unit RMS norm (the mean squared norm of the centred codes is 1), so
    that spaces of different scale compare (02)."""
    z = np.asarray(codes, dtype=np.float64)
    if not len(z):
        return z
    z = z - z.mean(0)
    return z / np.sqrt((z**2).sum(1).mean() + 1e-12)


def class_mean_distances(points, labels) -> np.ndarray:
    """Per sample, the Euclidean distance of ``points`` (codes or images, flattened) to the mean of its
    class: the within-class spread one sample at a time, so two spaces or two decoders compare on the
    same samples with a paired margin (000.3; 02)."""
    x = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
    y = np.asarray(labels)
    out = np.empty(len(x))
    for c in np.unique(y):
        members = y == c
        out[members] = np.linalg.norm(x[members] - x[members].mean(0), axis=1)
    return out


def latent_stats(codes, labels, sample: int = 2000, seed: int = 0) -> dict[str, float]:
    """Within-class spread, between-centroid distance, their ratio and silhouette of ``codes`` (02).

    Codes are first scaled by their overall RMS norm so that spaces of different scale compare.
    """
    from sklearn.metrics import silhouette_score

    z = unit_rms(codes)
    y = np.asarray(labels)
    classes = np.unique(y)
    centroids = np.stack([z[y == c].mean(0) for c in classes])
    within = float(np.mean([np.linalg.norm(z[y == c] - centroids[i], axis=1).mean() for i, c in enumerate(classes)]))
    gaps = np.linalg.norm(centroids[:, None] - centroids[None], axis=-1)
    between = float(gaps[np.triu_indices(len(classes), 1)].mean())
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(z), min(sample, len(z)), replace=False)
    return {
        "within_class": within,
        "between_centroids": between,
        "ratio": between / within,
        "silhouette": float(silhouette_score(z[pick], y[pick])),
    }


def class_silhouettes(codes, labels, classes, sample: int = 2000, seed: int = 0):
    """Mean silhouette per class (a pandas Series by class name, best first) on a random subset (02)."""
    import pandas as pd
    from sklearn.metrics import silhouette_samples

    z, y = np.asarray(codes, dtype=np.float64), np.asarray(labels)
    pick = np.random.default_rng(seed).choice(len(z), min(sample, len(z)), replace=False)
    values = silhouette_samples(z[pick], y[pick])
    names = [classes[c] for c in y[pick]]
    return pd.Series(values, index=names).groupby(level=0).mean().sort_values(ascending=False)


def principal_angles(a, b) -> np.ndarray:
    """Principal angles in degrees between the column spaces of ``a`` and ``b`` (D x k) (002.P5.3; 02)."""
    qa, _ = np.linalg.qr(np.asarray(a, dtype=np.float64))
    qb, _ = np.linalg.qr(np.asarray(b, dtype=np.float64))
    cosines = np.linalg.svd(qa.T @ qb, compute_uv=False).clip(-1, 1)
    return np.degrees(np.arccos(cosines))


def pca_basis(x, k: int) -> np.ndarray:
    """The top-``k`` principal directions (D x k) of the rows of ``x`` (02)."""
    x = np.asarray(x, dtype=np.float64)
    _, _, vt = np.linalg.svd(x - x.mean(0), full_matrices=False)
    return vt[:k].T


def random_codes(codes: torch.Tensor, n: int, kind: str = "gaussian", seed: int = 0) -> torch.Tensor:
    """``n`` random latent codes: from a Gaussian fitted to ``codes`` or their bounding box (003.4; 02)."""
    g = torch.Generator().manual_seed(seed)
    codes = codes.double()
    if kind == "gaussian":
        mean, cov = codes.mean(0), torch.cov(codes.T) + 1e-6 * torch.eye(codes.shape[1], dtype=codes.dtype)
        noise = torch.randn(n, codes.shape[1], generator=g, dtype=codes.dtype)
        return (mean + noise @ torch.linalg.cholesky(cov).T).float()
    if kind == "uniform":
        low, high = codes.min(0).values, codes.max(0).values
        return (low + (high - low) * torch.rand(n, codes.shape[1], generator=g, dtype=codes.dtype)).float()
    raise ValueError(f"unknown kind {kind!r}; use 'gaussian' or 'uniform'")


def tsne_2d(features: np.ndarray, seed: int = 0, perplexity: float = 20.0) -> np.ndarray:
    """A 2-D t-SNE embedding of feature rows (scikit-learn; 01's bottlenecks, 02's codes)."""
    from sklearn.manifold import TSNE

    perplexity = min(perplexity, (len(features) - 1) / 3)
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(features)
