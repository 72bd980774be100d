"""Sample-quality measures for GAN generators, NumPy only.

* :func:`frechet_distance` / :func:`frechet_distance_from_stats` - the Fréchet distance between
  Gaussians fitted to two feature sets (FID when the features come from Inception-v3).
* :func:`kernel_inception_distance` - KID, the unbiased MMD^2 with a cubic polynomial kernel.
* :func:`class_coverage` - how evenly generated samples spread over the classes of a classifier
  (mode-collapse check).

Everything is computed in float64.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "frechet_distance",
    "frechet_distance_from_stats",
    "kernel_inception_distance",
    "class_coverage",
]


# --------------------------------------------------------------------------- helpers


def _features(owner: str, name: str, x, min_rows: int = 2) -> np.ndarray:
    """Validate an (N, D) feature array and return it as float64."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{owner}: `{name}` must be a numeric (N, D) array. Received: {name}={x!r}"
        ) from None
    if arr.ndim != 2:
        raise ValueError(
            f"{owner}: `{name}` must be a 2-D (N, D) array of N feature vectors. "
            f"Received: shape={arr.shape}"
        )
    if arr.shape[0] < min_rows or arr.shape[1] < 1:
        raise ValueError(
            f"{owner}: `{name}` must have at least {min_rows} rows (samples) and 1 column "
            f"(feature). Received: shape={arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{owner}: `{name}` must contain only finite values. Received: NaN or inf")
    return arr


def _same_dim(owner: str, a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{owner}: `features_a` and `features_b` must have the same feature dimension D. "
            f"Received: shapes {a.shape} and {b.shape}"
        )


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD (D, D) matrix (negative eigenvalues -> 0)."""
    w, v = np.linalg.eigh(matrix)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


# --------------------------------------------------------------------------- Fréchet distance


def frechet_distance_from_stats(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet (2-Wasserstein squared) distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``|mu1 - mu2|^2 + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^{1/2})``, where the trace of the
    matrix square root is ``sum(sqrt(eig(sqrt(sigma1) @ sigma2 @ sqrt(sigma1))))``: that matrix is
    symmetric PSD and similar to ``sigma1 @ sigma2``, so the symmetric eigen-solver is stable even
    for singular covariances (N < D); tiny negative eigenvalues from rounding are clipped to 0.

    Args:
        mu1, mu2: means, shape ``(D,)``.
        sigma1, sigma2: covariance matrices, shape ``(D, D)``, symmetric positive semi-definite
            (they are symmetrized as ``(S + S.T) / 2``).

    Returns:
        The distance as a Python float, >= 0 (a rounding-level negative result is clipped to 0).
    """
    owner = "frechet_distance_from_stats"
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    for name, mu in (("mu1", mu1), ("mu2", mu2)):
        if mu.ndim != 1:
            raise ValueError(
                f"{owner}: `{name}` must be a 1-D (D,) mean. Received: shape={mu.shape}"
            )
    d = mu1.shape[0]
    if mu2.shape != (d,):
        raise ValueError(
            f"{owner}: `mu1` and `mu2` must have the same shape (D,). "
            f"Received: shapes {mu1.shape} and {mu2.shape}"
        )
    for name, sigma in (("sigma1", sigma1), ("sigma2", sigma2)):
        if sigma.shape != (d, d):
            raise ValueError(
                f"{owner}: `{name}` must be a ({d}, {d}) covariance matrix matching the means. "
                f"Received: shape={sigma.shape}"
            )
    for name, arr in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(
                f"{owner}: `{name}` must contain only finite values. Received: NaN or inf"
            )
    sigma1 = 0.5 * (sigma1 + sigma1.T)
    sigma2 = 0.5 * (sigma2 + sigma2.T)

    root1 = _sqrt_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    middle = 0.5 * (middle + middle.T)
    trace_sqrt = float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0.0, None))))
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)
    return max(value, 0.0)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (FID on Inception features).

    Fits ``mu = mean(features)`` and ``sigma = cov(features)`` (unbiased, ddof=1, as in the
    reference FID code) to each set and returns :func:`frechet_distance_from_stats`.

    Args:
        features_a: ``(N_a, D)`` array, N_a >= 2.
        features_b: ``(N_b, D)`` array, N_b >= 2, same D.

    Returns:
        Python float >= 0; 0 for identical sets; symmetric in its arguments.
    """
    owner = "frechet_distance"
    a = _features(owner, "features_a", features_a)
    b = _features(owner, "features_b", features_b)
    _same_dim(owner, a, b)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    sigma_a = np.atleast_2d(np.cov(a, rowvar=False))
    sigma_b = np.atleast_2d(np.cov(b, rowvar=False))
    return frechet_distance_from_stats(mu_a, sigma_a, mu_b, sigma_b)


# --------------------------------------------------------------------------- KID


def _rng(owner: str, rng) -> np.random.Generator:
    if rng is None:
        from upsampling.random import generator

        return generator()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ValueError(
        f"{owner}: `rng` must be None, an integer seed or a numpy.random.Generator. "
        f"Received: rng={rng!r}"
    )


def _unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of two (m, D) samples with k(u, v) = (u.v / D + 1)^3."""
    m, d = x.shape
    k_xx = (x @ x.T / d + 1.0) ** 3
    k_yy = (y @ y.T / d + 1.0) ** 3
    k_xy = (x @ y.T / d + 1.0) ** 3
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def kernel_inception_distance(
    features_a: np.ndarray,
    features_b: np.ndarray,
    *,
    subsets: int = 10,
    subset_size: int = 1000,
    rng=None,
) -> tuple[float, float]:
    """Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs").

    For each of `subsets` rounds, draws ``m = min(subset_size, N_a, N_b)`` rows of each set
    without replacement and computes the unbiased MMD^2 with the polynomial kernel
    ``k(x, y) = (x . y / D + 1)^3``::

        sum_{i!=j} k(a_i, a_j) / (m(m-1)) + sum_{i!=j} k(b_i, b_j) / (m(m-1))
            - 2 sum_{i,j} k(a_i, b_j) / m^2

    The estimate is unbiased, so for two samples of one distribution it scatters around 0 and
    can be slightly negative.

    Args:
        features_a: ``(N_a, D)`` array, N_a >= 2.
        features_b: ``(N_b, D)`` array, N_b >= 2, same D.
        subsets: number of random subsets (>= 1).
        subset_size: largest subset size (>= 2).
        rng: None (the library's shared generator, see ``upsampling.random``), an integer seed,
            or a ``numpy.random.Generator``.

    Returns:
        ``(mean, std)`` of the per-subset MMD^2 values (std with ddof=0, 0.0 for one subset).
    """
    owner = "kernel_inception_distance"
    a = _features(owner, "features_a", features_a)
    b = _features(owner, "features_b", features_b)
    _same_dim(owner, a, b)
    for name, value, low in (("subsets", subsets, 1), ("subset_size", subset_size, 2)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ValueError(
                f"{owner}: `{name}` must be an integer >= {low}. Received: {name}={value!r}"
            )
    gen = _rng(owner, rng)
    m = int(min(subset_size, a.shape[0], b.shape[0]))
    values = np.empty(int(subsets))
    for i in range(int(subsets)):
        x = a[gen.choice(a.shape[0], m, replace=False)]
        y = b[gen.choice(b.shape[0], m, replace=False)]
        values[i] = _unbiased_mmd2(x, y)
    return float(values.mean()), float(values.std())


# --------------------------------------------------------------------------- class coverage


def class_coverage(labels_or_probs: np.ndarray, num_classes: int = 10) -> dict:
    """How many classes generated samples fall into, and how evenly.

    Args:
        labels_or_probs: ``(N, K)`` class probabilities or scores (the class of a sample is its
            argmax; K must equal `num_classes`), or ``(N,)`` integer labels in
            ``[0, num_classes)``. N >= 1.
        num_classes: K, number of classes (>= 1).

    Returns:
        dict with

        * ``'classes_covered'`` (int): classes receiving at least one sample;
        * ``'histogram'`` (list of K ints): samples per class;
        * ``'entropy_ratio'`` (float): entropy of the class histogram / log(K), 1.0 when perfectly
          even, 0.0 when all samples are in one class (1.0 when K == 1);
        * ``'kl_to_uniform'`` (float): KL(histogram || uniform) in nats = log(K) - entropy,
          0.0 when perfectly even.
    """
    owner = "class_coverage"
    if not isinstance(num_classes, (int, np.integer)) or isinstance(num_classes, bool) \
            or num_classes < 1:
        raise ValueError(
            f"{owner}: `num_classes` must be a positive integer. "
            f"Received: num_classes={num_classes!r}"
        )
    k = int(num_classes)
    try:
        arr = np.asarray(labels_or_probs)
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise TypeError
    except (TypeError, ValueError):
        raise ValueError(
            f"{owner}: `labels_or_probs` must be a numeric (N,) or (N, K) array. "
            f"Received: labels_or_probs={labels_or_probs!r}"
        ) from None
    if arr.ndim == 2:
        if arr.shape[1] != k:
            raise ValueError(
                f"{owner}: `labels_or_probs` of shape (N, K) must have K == num_classes ({k}). "
                f"Received: shape={arr.shape}"
            )
        if arr.shape[0] == 0:
            raise ValueError(f"{owner}: `labels_or_probs` must hold at least one sample. "
                             f"Received: shape={arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{owner}: `labels_or_probs` must contain only finite values. "
                             f"Received: NaN or inf")
        labels = np.argmax(arr, axis=1)
    elif arr.ndim == 1:
        if arr.shape[0] == 0:
            raise ValueError(f"{owner}: `labels_or_probs` must hold at least one sample. "
                             f"Received: shape={arr.shape}")
        as_float = arr.astype(np.float64)
        if not np.all(np.isfinite(as_float)) or np.any(as_float != np.round(as_float)):
            raise ValueError(
                f"{owner}: hard labels of shape (N,) must be whole numbers. "
                f"Received: labels_or_probs={arr[:10]!r}{'...' if arr.size > 10 else ''}"
            )
        labels = as_float.astype(np.int64)
        bad = (labels < 0) | (labels >= k)
        if np.any(bad):
            raise ValueError(
                f"{owner}: hard labels must be in [0, num_classes) = [0, {k}). "
                f"Received: label {labels[bad][0]}"
            )
    else:
        raise ValueError(
            f"{owner}: `labels_or_probs` must be (N,) hard labels or (N, K) probabilities. "
            f"Received: shape={arr.shape}"
        )

    histogram = np.bincount(labels, minlength=k)
    n = int(histogram.sum())
    p = histogram[histogram > 0] / n
    entropy = float(-(p * np.log(p)).sum())
    log_k = float(np.log(k))
    entropy_ratio = entropy / log_k if k > 1 else 1.0
    return {
        "classes_covered": int(np.count_nonzero(histogram)),
        "histogram": [int(c) for c in histogram],
        "entropy_ratio": float(min(max(entropy_ratio, 0.0), 1.0)),
        "kl_to_uniform": float(max(log_k - entropy, 0.0)),
    }
