"""The two feature extractors of `evaluate`, and scores with their spread over sample draws."""
import numpy as np
import pytest

from upsampling.gan import classifier as clf
from upsampling.gan.evaluate import evaluate_samples, format_results, score_draws
from upsampling.gan.quality import class_coverage, frechet_distance, kernel_inception_distance


def test_shift_images_matches_a_loop_over_images():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 6, 7, 2)).astype(np.float32)
    got = clf.shift_images(x, np.random.default_rng(3), max_shift=2)
    dy, dx = np.random.default_rng(3).integers(0, 5, size=(2, 40))
    for i in range(40):
        padded = np.pad(x[i], ((2, 2), (2, 2), (0, 0)), mode="edge")
        np.testing.assert_array_equal(got[i], padded[dy[i]:dy[i] + 6, dx[i]:dx[i] + 7])
    assert len({(a, b) for a, b in zip(dy, dx)}) > 10  # the offsets really vary


@pytest.fixture(scope="module")
def extractors(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    return {k: clf.get_classifier("digits", verbose=0, directory=root, kind=k) for k in ("independent", "selection")}


def test_the_independent_extractor_differs_and_both_classify_well(extractors):
    from upsampling.data import load_data
    ind, sel = extractors["independent"], extractors["selection"]
    types = lambda m: [type(layer).__name__ for layer in m.layers]  # noqa: E731
    assert "MaxPooling2D" in types(ind) and "GlobalAveragePooling2D" in types(ind) and "Dense" not in types(ind)[:-1]
    assert "MaxPooling2D" not in types(sel)
    x, y = load_data("digits", split="test", scale="tanh")
    for model in (ind, sel):
        assert (model.predict(x, verbose=0).argmax(-1) == y).mean() > 0.85
    fi, _ = clf.features_and_probabilities(ind, x)
    fs, _ = clf.features_and_probabilities(sel, x)
    assert fi.shape == (len(x), 64) and fs.shape == (len(x), clf.FEATURES)
    with pytest.raises(ValueError, match="`kind` must be one of selection, independent. Received: 'other'"):
        clf.get_classifier("digits", kind="other")


def test_score_draws_is_the_mean_and_spread_of_per_draw_scores(extractors):
    from upsampling.data import load_data
    x, _ = load_data("digits", split="train", scale="tanh")
    ref, _ = load_data("digits", split="test", scale="tanh")
    rng = np.random.default_rng(1)
    draws = [x[rng.choice(len(x), 100, replace=False)] for _ in range(3)]
    scores = score_draws(draws, ref, {"independent": extractors["independent"]}, seed=7)["independent"]
    f_ref, _ = clf.features_and_probabilities(extractors["independent"], ref)
    fds, kids, evens = [], [], []
    for i, d in enumerate(draws):  # each draw scored directly with the quality functions
        f, p = clf.features_and_probabilities(extractors["independent"], d)
        fds.append(frechet_distance(f, f_ref))
        kids.append(kernel_inception_distance(f, f_ref, subsets=1, subset_size=100, rng=7 + i)[0])
        evens.append(class_coverage(p)["entropy_ratio"])
    assert scores["fd"] == pytest.approx(np.mean(fds)) and scores["fd_sd"] == pytest.approx(np.std(fds, ddof=1))
    assert scores["kid"] == pytest.approx(np.mean(kids)) and scores["kid_sd"] == pytest.approx(np.std(kids, ddof=1))
    assert scores["entropy_ratio"] == pytest.approx(np.mean(evens)) and scores["fd_sd"] > 0
    assert sum(scores["histogram"]) == 300 and (scores["n"], scores["draws"]) == (100, 3)


def test_evaluate_samples_draws_with_successive_seeds_and_reports_both(extractors):
    from upsampling.data import load_data
    x, _ = load_data("digits", split="train", scale="tanh")
    seen = []

    def sample(n, seed):
        seen.append((n, seed))
        return x[np.random.default_rng(seed).choice(len(x), n, replace=False)]

    noise = lambda n, seed: np.random.default_rng(seed).uniform(-1, 1, (n, 8, 8, 1))  # noqa: E731
    real = evaluate_samples(sample, dataset="digits", n=120, draws=4, seed=10, classifiers=extractors)
    assert seen == [(120, 10), (120, 11), (120, 12), (120, 13)]
    bad = evaluate_samples(noise, dataset="digits", n=120, draws=4, seed=10, classifiers=extractors)
    for name in ("independent", "selection"):
        r, b = real["extractors"][name], bad["extractors"][name]
        assert r["fd"] + 3 * r["fd_sd"] < b["fd"] - 3 * b["fd_sd"]  # far apart, beyond the spread
    assert real["fd"] == real["extractors"]["independent"]["fd"]
    text = format_results({"real": real, "noise": bad})
    assert text.index("independent extractor") < text.index("selection extractor") and "±" in text
    with pytest.raises(ValueError, match="`draws` \\(--draws\\) must be an integer >= 1. Received: 0"):
        evaluate_samples(sample, dataset="digits", n=10, draws=0, classifiers=extractors)
