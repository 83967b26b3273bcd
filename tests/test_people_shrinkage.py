"""Beta-binomial prior and shrinkage, checked against published data sets and fits.

Published values used here (everything else is an independent re-computation):

* Rat tumour data, Tarone (1982), as tabulated in Gelman, Carlin, Stern, Dunson, Vehtari &
  Rubin, *Bayesian Data Analysis*, 3rd ed. (BDA3), Table 5.1. BDA3 §5.1 publishes for the 70
  historical experiments: sample mean 0.136 and sample sd 0.103 of the proportions, the crude
  moment-matched prior Beta(1.4, 8.6), and for the current experiment (4 of 14) the posterior
  Beta(5.4, 18.6) with mean 0.223 and sd 0.083.
* Baseball batting averages, Efron & Morris (1975), JASA 70, 311-319 (also Efron & Morris,
  Scientific American 1977): 18 players, 45 at-bats each. Published: grand mean 0.265,
  James-Stein shrinkage factor c = 0.212, and Clemente's 0.400 shrunk to 0.294.

The beta-binomial *MLE* of either data set is not taken from a publication: it is checked
against an independent maximisation (different parametrisation, likelihood code and
optimiser). The moment estimator is checked against a hand computation in exact fractions.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from reporting.people import (
    BetaPrior,
    beta_binomial_loglik,
    fit_beta_binomial,
    moment_estimates,
    shrunk_rates,
    weak_prior,
)

# BDA3 Table 5.1 (Tarone 1982): 70 historical experiments, then the current one (4/14).
RATS = """0/20 0/20 0/20 0/20 0/20 0/20 0/20 0/19 0/19 0/19
0/19 0/18 0/18 0/17 1/20 1/20 1/20 1/20 1/19 1/19
1/18 1/18 2/25 2/24 2/23 2/20 2/20 2/20 2/20 2/20
2/20 1/10 5/49 2/19 5/46 3/27 2/17 7/49 7/47 3/20
3/20 2/13 9/48 10/50 4/20 4/20 4/20 4/20 4/20 4/20
4/20 10/48 4/19 4/19 4/19 5/22 11/46 12/49 5/20 5/20
6/23 5/19 6/22 6/20 6/20 6/20 16/52 15/47 15/46 9/24 4/14"""
_pairs = [tuple(int(v) for v in s.split("/")) for s in RATS.split()]
RAT_Y = np.array([a for a, _ in _pairs])
RAT_N = np.array([b for _, b in _pairs])

# Efron & Morris (1975): hits in the first 45 at-bats of the 1970 season.
BASEBALL_HITS = np.array([18, 17, 16, 15, 14, 14, 13, 12, 11, 11, 10, 10, 10, 10, 10, 9, 8, 7])
BASEBALL_N = np.full(18, 45)


def _crude_prior_bda3() -> tuple[float, float]:
    """BDA3 §5.1's crude estimate: match Beta mean/variance to the raw historical proportions."""
    p = RAT_Y[:70] / RAT_N[:70]
    m, v = p.mean(), p.var(ddof=1)
    s = m * (1 - m) / v - 1
    return m * s, (1 - m) * s


def _independent_mle(y: np.ndarray, n: np.ndarray) -> tuple[float, float, float]:
    """Independent MLE: Nelder-Mead on (log alpha, log beta) with scipy.stats.betabinom."""

    def nll(t: np.ndarray) -> float:
        a, b = np.exp(t)
        return -float(stats.betabinom.logpmf(y, n, a, b).sum())

    res = optimize.minimize(
        nll,
        np.log([1.0, 5.0]),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000, "maxfev": 40000},
    )
    a, b = np.exp(res.x)
    return float(a), float(b), -float(res.fun)


def test_rat_data_transcription_matches_bda3_summaries():
    """Published (BDA3 §5.1): mean 0.136, sd 0.103, crude prior Beta(1.4, 8.6)."""
    assert len(RAT_Y) == 71
    p = RAT_Y[:70] / RAT_N[:70]
    assert p.mean() == pytest.approx(0.136, abs=5e-4)
    assert p.std(ddof=1) == pytest.approx(0.103, abs=5e-4)
    a, b = _crude_prior_bda3()
    assert a == pytest.approx(1.4, abs=0.05)
    assert b == pytest.approx(8.6, abs=0.05)


def test_posterior_for_current_rat_experiment_matches_bda3():
    """Published (BDA3 §5.1): posterior for 4/14 under the crude prior has mean 0.223, sd 0.083."""
    a, b = _crude_prior_bda3()
    prior = BetaPrior(alpha=a, beta=b, mean=a / (a + b), method="mom")
    mean, lo, hi = shrunk_rates(np.array([4]), np.array([14]), prior)
    assert mean[0] == pytest.approx(0.223, abs=5e-4)
    post = stats.beta(a + 4, b + 10)
    assert post.std() == pytest.approx(0.083, abs=5e-4)
    assert lo[0] == pytest.approx(post.ppf(0.025), rel=1e-10)
    assert hi[0] == pytest.approx(post.ppf(0.975), rel=1e-10)


def test_rat_mle_matches_independent_maximisation():
    """Not published: our L-BFGS-B fit vs an independent Nelder-Mead fit of the same likelihood."""
    prior = fit_beta_binomial(RAT_Y, RAT_N, method="mle")
    a_ind, b_ind, ll_ind = _independent_mle(RAT_Y, RAT_N)
    assert prior.method == "mle" and prior.note == ""
    assert prior.alpha == pytest.approx(a_ind, rel=2e-3)
    assert prior.beta == pytest.approx(b_ind, rel=2e-3)
    assert beta_binomial_loglik(prior.alpha, prior.beta, RAT_Y, RAT_N) >= ll_ind - 1e-6
    # sanity: an interior optimum, roughly Beta(2.3, 14) with mean near the pooled rate
    assert 1.5 < prior.alpha < 4.0 and 9.0 < prior.beta < 25.0
    assert prior.mean == pytest.approx(prior.alpha / (prior.alpha + prior.beta))


def test_baseball_mle_is_at_least_as_good_as_independent_fit():
    """The baseball likelihood is very flat in the concentration; compare log-likelihoods."""
    prior = fit_beta_binomial(BASEBALL_HITS, BASEBALL_N, method="mle")
    _, _, ll_ind = _independent_mle(BASEBALL_HITS, BASEBALL_N)
    assert beta_binomial_loglik(prior.alpha, prior.beta, BASEBALL_HITS, BASEBALL_N) >= ll_ind - 1e-6
    assert prior.mean == pytest.approx(215 / 810, abs=1e-3)


def test_baseball_moments_reproduce_efron_morris_james_stein():
    """Published (Efron & Morris 1975/1977): grand mean 0.265, c = 0.212, Clemente 0.400 -> 0.294.

    With equal n the moment estimator's shrinkage weight is
    w = n/(n-1) * (1 - (k-1) sigma^2 / S), and James-Stein's is c = 1 - (k-3) sigma^2 / S,
    so w = n/(n-1) * (1 - (k-1)/(k-3) * (1 - c)).
    """
    k, n = 18, 45
    prior = fit_beta_binomial(BASEBALL_HITS, BASEBALL_N, method="mom")
    assert prior.mean == pytest.approx(0.265, abs=5e-4)
    w = n / (n + prior.concentration)
    c_pub = 0.212
    w_expected = n / (n - 1) * (1 - (k - 1) / (k - 3) * (1 - c_pub))
    # published c has 3 decimals: |dw/dc| = 45/44 * 17/15 ~ 1.16, so rounding gives <= 6e-4
    assert w == pytest.approx(w_expected, abs=1e-3)
    # back out the James-Stein factor from our fit and shrink Clemente's 18/45 = 0.400
    c_ours = 1 - (k - 3) / (k - 1) * (1 - w * (n - 1) / n)
    assert c_ours == pytest.approx(c_pub, abs=5e-4)
    clemente_js = prior.mean + c_ours * (18 / 45 - prior.mean)
    assert clemente_js == pytest.approx(0.294, abs=5e-4)
    # and the beta-binomial posterior mean shrinks at least as hard as James-Stein
    post, _, _ = shrunk_rates(np.array([18]), np.array([45]), prior)
    assert prior.mean < post[0] < clemente_js


def test_moment_estimator_against_hand_computation_in_fractions():
    """Hand computation: x = (2, 5, 9), n = 10 each.

    p = 16/30, S = sum n (p_i - p)^2, rho = (S/(p(1-p)) - (k-1)) / (N - sum n^2/N - (k-1)).
    """
    x, n = [2, 5, 9], [10, 10, 10]
    p = Fraction(16, 30)
    s = sum(10 * (Fraction(xi, 10) - p) ** 2 for xi in x)
    rho = (s / (p * (1 - p)) - 2) / (30 - Fraction(300, 30) - 2)
    conc = 1 / rho - 1
    prior = fit_beta_binomial(np.array(x), np.array(n), method="mom")
    mean, rho_hat = moment_estimates(np.array(x), np.array(n))
    assert mean == pytest.approx(float(p), rel=1e-12)
    assert rho_hat == pytest.approx(float(rho), rel=1e-12)
    assert prior.alpha == pytest.approx(float(p * conc), rel=1e-12)
    assert prior.beta == pytest.approx(float((1 - p) * conc), rel=1e-12)


def test_moment_estimator_unequal_n_rats_matches_closed_form():
    """Kleinman-type n-weighted estimator on the rats, written out independently."""
    y, n = RAT_Y.astype(float), RAT_N.astype(float)
    big_n, k = n.sum(), len(n)
    p = y.sum() / big_n
    s = (n * (y / n - p) ** 2).sum()
    rho = (s / (p * (1 - p)) - (k - 1)) / (big_n - (n**2).sum() / big_n - (k - 1))
    prior = fit_beta_binomial(RAT_Y, RAT_N, method="mom")
    assert prior.concentration == pytest.approx(1 / rho - 1, rel=1e-10)
    # removing binomial noise makes the between-experiment spread smaller than BDA3's crude fit
    a_c, b_c = _crude_prior_bda3()
    assert prior.concentration > a_c + b_c


def test_no_overdispersion_caps_concentration_and_says_so():
    x = np.array([45, 45, 45, 45, 45])
    n = np.full(5, 50)
    for method in ("mom", "mle"):
        prior = fit_beta_binomial(x, n, method=method, max_concentration=1e4)
        assert prior.concentration == pytest.approx(1e4, rel=1e-6)
        assert "complete pooling" in prior.note
        assert prior.mean == pytest.approx(0.9, abs=1e-3)  # MLE mean is not exactly pooled


def test_invalid_inputs_raise():
    with pytest.raises(ValueError, match="at least 2"):
        fit_beta_binomial(np.array([3]), np.array([4]))
    with pytest.raises(ValueError, match="successes and some failures"):
        fit_beta_binomial(np.array([4, 10]), np.array([4, 10]))
    with pytest.raises(ValueError):
        fit_beta_binomial(np.array([5, 1]), np.array([4, 10]))
    with pytest.raises(ValueError):
        fit_beta_binomial(np.array([1, 2]), np.array([4, 10]), method="bayes")
    with pytest.raises(ValueError):
        weak_prior(1.0)


def test_reviewers_without_audits_are_ignored_by_the_fit_and_get_the_prior():
    p1 = fit_beta_binomial(RAT_Y, RAT_N, method="mom")
    p2 = fit_beta_binomial(np.append(RAT_Y, 0), np.append(RAT_N, 0), method="mom")
    assert p1.alpha == pytest.approx(p2.alpha) and p1.beta == pytest.approx(p2.beta)
    mean, lo, hi = shrunk_rates(np.array([0]), np.array([0]), p1)
    assert mean[0] == pytest.approx(p1.mean)


@settings(max_examples=60, deadline=None)
@given(
    x=st.integers(0, 500),
    extra=st.integers(0, 500),
    a=st.floats(0.2, 200),
    b=st.floats(0.2, 200),
)
def test_posterior_mean_lies_between_raw_rate_and_prior_mean(x, extra, a, b):
    n = x + extra
    prior = BetaPrior(alpha=a, beta=b, mean=a / (a + b), method="mom")
    mean, lo, hi = shrunk_rates(np.array([x]), np.array([n]), prior)
    assert lo[0] <= mean[0] <= hi[0]
    if n > 0:
        raw = x / n
        assert min(raw, prior.mean) - 1e-12 <= mean[0] <= max(raw, prior.mean) + 1e-12
