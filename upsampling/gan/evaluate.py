"""Quality of a generator without a downloaded network: Fréchet distance and KID on the features
of the project's own classifiers, plus how many classes the samples cover and how evenly.

Two feature extractors score every set of images (see `classifier`): `independent`, which nothing
in training ever looks at, is the one reported first; `selection` is the one the trainer chose its
epoch with, so its numbers flatter a selected generator. Each score is the mean over `draws`
independent sets of `n` samples (other latent points, or other real images), with the standard
deviation over those draws as its spread.
"""
from __future__ import annotations

import numpy as np

from upsampling.gan.classifier import features_and_probabilities, get_classifier
from upsampling.gan.quality import class_coverage, frechet_distance, kernel_inception_distance

REPORTED = ("independent", "selection")  # the order of the report: the unbiased opinion first


def _one_draw(f_img, p_img, f_ref, seed: int) -> dict:
    m = min(len(f_img), len(f_ref))
    kid, _ = kernel_inception_distance(f_img, f_ref, subsets=1, subset_size=m, rng=np.random.default_rng(seed))
    coverage = class_coverage(p_img, num_classes=p_img.shape[1])
    return {"fd": frechet_distance(f_img, f_ref), "kid": kid, "classes_covered": coverage["classes_covered"],
            "entropy_ratio": coverage["entropy_ratio"], "histogram": coverage["histogram"]}


def score_draws(draws: list, reference: np.ndarray, classifiers: dict, *, seed: int = 0) -> dict:
    """Score each image set in `draws` (NHWC in [-1, 1]) against `reference` in every classifier's
    features: {extractor: {fd, fd_sd, kid, kid_sd, classes_covered (the fewest of any draw),
    entropy_ratio, entropy_sd, histogram (summed), n, draws}} with means and ddof=1 spreads over draws."""
    out = {}
    for name, classifier in classifiers.items():
        f_ref, _ = features_and_probabilities(classifier, reference)
        per = []
        for i, images in enumerate(draws):
            f_img, p_img = features_and_probabilities(classifier, images)
            per.append(_one_draw(f_img, p_img, f_ref, seed + i))
        spread = (lambda k: float(np.std([d[k] for d in per], ddof=1)) if len(per) > 1 else 0.0)
        out[name] = {"fd": float(np.mean([d["fd"] for d in per])), "fd_sd": spread("fd"),
                     "kid": float(np.mean([d["kid"] for d in per])), "kid_sd": spread("kid"),
                     "classes_covered": min(d["classes_covered"] for d in per),
                     "entropy_ratio": float(np.mean([d["entropy_ratio"] for d in per])),
                     "entropy_sd": spread("entropy_ratio"),
                     "histogram": [int(v) for v in np.sum([d["histogram"] for d in per], axis=0)],
                     "n": len(draws[0]), "draws": len(draws)}
    return out


def _row(scores: dict) -> dict:
    """One row of results: the independent extractor's numbers at the top level (what callers read),
    every extractor's under 'extractors'."""
    return {**scores[REPORTED[0]], "extractors": scores}


def _check_count(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"evaluate: `{name}` (--{name}) must be an integer >= {minimum}. Received: {value!r}")


def classifiers_for(dataset: str, *, verbose: int = 1) -> dict:
    return {name: get_classifier(dataset, verbose=verbose, kind=name) for name in REPORTED}


def evaluate_samples(sample, *, dataset: str = "mnist5k", n: int = 1000, draws: int = 5, seed: int = 0,
                     verbose: int = 1, classifiers: dict | None = None) -> dict:
    """Scores of a sampler, `sample(n, seed) -> images (n, H, W, C) in [-1, 1]`, called once per draw with
    seeds seed, seed+1, ... (any generator: this project's, or another framework's)."""
    from upsampling.data import load_data
    _check_count("n", n, 2)
    _check_count("draws", draws, 1)
    held_out, _ = load_data(dataset, split="test", scale="tanh")
    sets = [np.asarray(sample(n, seed + i), np.float32) for i in range(draws)]
    if sets[0].shape[1:] != held_out.shape[1:]:
        raise ValueError(f"evaluate: the generator makes images of shape {sets[0].shape[1:]}, but {dataset} images "
                         f"are {held_out.shape[1:]}; evaluate it on the data set it was trained on.")
    classifiers = classifiers or classifiers_for(dataset, verbose=verbose)
    return _row(score_draws(sets, held_out, classifiers, seed=seed))


def latent_sampler(generator):
    """`sample(n, seed)` for a model mapping latent vectors (N, latent_dim) to images."""
    latent_dim = generator.input_shape[-1]

    def sample(n, seed):
        latent = np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)
        return generator.predict(latent, verbose=0)
    return sample


def evaluate_generator(generator, *, dataset: str = "mnist5k", n: int = 1000, seed: int = 0, draws: int = 5,
                       baselines: bool = False, verbose: int = 1) -> dict:
    """Scores of `generator` against the held-out split; with `baselines`, also of training images
    against the held-out ones and of an untrained generator of the same shape."""
    from upsampling.data import load_data
    _check_count("n", n, 2)
    _check_count("draws", draws, 1)
    held_out, _ = load_data(dataset, split="test", scale="tanh")
    made = tuple(generator.output_shape[1:])
    if made != held_out.shape[1:]:
        raise ValueError(f"evaluate: the generator makes images of shape {made}, but {dataset} images are "
                         f"{held_out.shape[1:]}; evaluate it on the data set it was trained on.")
    classifiers = classifiers_for(dataset, verbose=verbose)
    common = dict(dataset=dataset, n=n, draws=draws, seed=seed, classifiers=classifiers)
    results = {"generator": evaluate_samples(latent_sampler(generator), **common)}
    if baselines:
        train, _ = load_data(dataset, split="train", scale="tanh")
        real = (lambda k, s: train[np.random.default_rng(s).choice(len(train), size=min(k, len(train)),
                                                                    replace=False)])
        results["real (train vs held-out)"] = evaluate_samples(real, **common)
        from upsampling.random import set_random_seed
        from upsampling.saving import model_config, model_from_config
        set_random_seed(seed)
        untrained = model_from_config(model_config(generator))
        results["untrained generator"] = evaluate_samples(latent_sampler(untrained), **common)
    return results


class TrainingScorer:
    """Fréchet distance between `n` samples of a generator and (up to `reference`) *training* images,
    in the selection classifier's features: a score for choosing among a run's epochs that leaves the
    held-out images, and the independent classifier, untouched for the final evaluation. Uses its
    own fixed latent points.

    Its noise decides how much of a choice it is: on the default run's epochs 9-15 (seed 0) the old
    500 samples against 500 training images scattered by 1.1-1.9 FD (sd over 8 redraws of both), as
    much as the gap between good epochs; 2,000 samples against all 4,000 training images scatter by
    0.2-0.45, a fifth of the 1.6 that separated the best two epochs."""

    def __init__(self, dataset: str, *, n: int = 2000, reference: int = 10000, seed: int = 0, verbose: int = 1):
        from upsampling.data import load_data
        self.classifier = get_classifier(dataset, verbose=verbose, kind="selection")
        train, _ = load_data(dataset, split="train", scale="tanh")
        pick = np.random.default_rng(seed).choice(len(train), size=min(reference, len(train)), replace=False)
        self.reference, _ = features_and_probabilities(self.classifier, train[pick])
        self.n, self.seed = int(n), seed

    def __call__(self, generator) -> float:
        latent = np.random.default_rng(self.seed + 2).standard_normal(
            (self.n, generator.input_shape[-1])).astype(np.float32)
        feats, _ = features_and_probabilities(self.classifier, generator.predict(latent, verbose=0))
        return frechet_distance(feats, self.reference)


def format_results(results: dict) -> str:
    """A table: one row per image set, per extractor FD, KID (mean ± sd over draws), classes, evenness."""
    first = next(iter(results.values()))
    lines = []
    for extractor in first["extractors"]:
        note = ("never used in training: the unbiased opinion" if extractor == "independent"
                else "the one epochs are chosen with: flatters a chosen generator")
        lines.append(f"{extractor} extractor ({note})")
        lines.append(f"  {'':26s} {'FD':>14s} {'KID':>16s} {'classes':>8s} {'evenness':>14s}")
        for name, row in results.items():
            r = row["extractors"][extractor]
            lines.append(f"  {name:26s} {r['fd']:7.2f} ± {r['fd_sd']:4.2f} {r['kid']:8.4f} ± {r['kid_sd']:5.4f} "
                         f"{r['classes_covered']:>5d}/{len(r['histogram']):<2d} "
                         f"{r['entropy_ratio']:6.3f} ± {r['entropy_sd']:5.3f}")
    d = first["extractors"][REPORTED[0]]
    lines.append(f"Means ± standard deviations over {d['draws']} draws of {d['n']} samples each; classes: the "
                 f"fewest covered by any draw.")
    return "\n".join(lines)
