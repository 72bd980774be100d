"""Quality of a generator without a downloaded network: Fréchet distance and KID on the features
of the project's own classifier, plus how many classes the samples cover and how evenly."""
from __future__ import annotations

import numpy as np

from upsampling.gan.classifier import features_and_probabilities, get_classifier
from upsampling.gan.quality import class_coverage, frechet_distance, kernel_inception_distance


def score_images(images: np.ndarray, reference: np.ndarray, classifier, *, seed: int = 0) -> dict:
    """Compare `images` with `reference` (both NHWC in [-1, 1]) through `classifier`."""
    f_img, p_img = features_and_probabilities(classifier, images)
    f_ref, _ = features_and_probabilities(classifier, reference)
    kid_mean, kid_std = kernel_inception_distance(f_img, f_ref, subsets=10, subset_size=min(500, len(images)),
                                                  rng=np.random.default_rng(seed))
    coverage = class_coverage(p_img, num_classes=p_img.shape[1])
    return {"fd": frechet_distance(f_img, f_ref), "kid": kid_mean, "kid_std": kid_std,
            "classes_covered": coverage["classes_covered"], "entropy_ratio": coverage["entropy_ratio"],
            "histogram": coverage["histogram"], "n": len(images)}


def evaluate_generator(generator, *, dataset: str = "mnist5k", n: int = 1000, seed: int = 0,
                       baselines: bool = False, verbose: int = 1) -> dict:
    """Scores of `generator` against the held-out split; with `baselines`, also of the held-out
    images themselves against the training split and of an untrained generator of the same shape."""
    from upsampling.data import load_data
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"evaluate: `n` (--n) must be an integer >= 2 (the scores compare sample statistics). "
                         f"Received: {n!r}")
    held_out, _ = load_data(dataset, split="test", scale="tanh")
    made = tuple(generator.output_shape[1:])
    if made != held_out.shape[1:]:
        raise ValueError(f"evaluate: the generator makes images of shape {made}, but {dataset} images are "
                         f"{held_out.shape[1:]}; evaluate it on the data set it was trained on.")
    classifier = get_classifier(dataset, verbose=verbose)
    latent_dim = generator.input_shape[-1]
    latent = np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)
    results = {"generator": score_images(generator.predict(latent, verbose=0), held_out, classifier, seed=seed)}
    if baselines:
        train, _ = load_data(dataset, split="train", scale="tanh")
        pick = np.random.default_rng(seed).choice(len(train), size=min(n, len(train)), replace=False)
        results["real (train vs held-out)"] = score_images(train[pick], held_out, classifier, seed=seed)
        from upsampling.saving import model_from_config, model_config
        from upsampling.random import set_random_seed
        set_random_seed(seed)
        untrained = model_from_config(model_config(generator))
        results["untrained generator"] = score_images(untrained.predict(latent, verbose=0), held_out, classifier,
                                                      seed=seed)
    return results


class TrainingScorer:
    """Fréchet distance between `n` samples of a generator and `n` *training* images, in the
    quality classifier's features: a score for choosing among a run's epochs that leaves the
    held-out images untouched for the final evaluation. Uses its own fixed latent points."""

    def __init__(self, dataset: str, *, n: int = 500, seed: int = 0, verbose: int = 1):
        from upsampling.data import load_data
        self.classifier = get_classifier(dataset, verbose=verbose)
        train, _ = load_data(dataset, split="train", scale="tanh")
        pick = np.random.default_rng(seed).choice(len(train), size=min(n, len(train)), replace=False)
        self.reference, _ = features_and_probabilities(self.classifier, train[pick])
        self.n, self.seed = len(pick), seed

    def __call__(self, generator) -> float:
        latent = np.random.default_rng(self.seed + 2).standard_normal(
            (self.n, generator.input_shape[-1])).astype(np.float32)
        feats, _ = features_and_probabilities(self.classifier, generator.predict(latent, verbose=0))
        return frechet_distance(feats, self.reference)


def format_results(results: dict) -> str:
    lines = [f"{'':28s} {'FD':>9s} {'KID':>9s} {'classes':>8s} {'evenness':>9s}"]
    for name, r in results.items():
        lines.append(f"{name:28s} {r['fd']:9.2f} {r['kid']:9.4f} {r['classes_covered']:>5d}/{len(r['histogram']):<2d} "
                     f"{r['entropy_ratio']:9.3f}")
    return "\n".join(lines)
