"""Empirical-Bayes shrinkage of per-reviewer accuracy with a beta-binomial prior.

Each reviewer *i* has ``x_i`` correct audits out of ``n_i``. The model is

    x_i | theta_i ~ Binomial(n_i, theta_i),   theta_i ~ Beta(alpha, beta),

so marginally ``x_i`` is beta-binomial. ``(alpha, beta)`` are estimated from the whole team
(method of moments or maximum likelihood) and each reviewer's accuracy is then summarised by
the posterior ``Beta(alpha + x_i, beta + n_i - x_i)``: its mean is a weighted average of the
reviewer's own rate and the team mean, with weight ``n_i / (n_i + alpha + beta)`` on the
reviewer's own data, so a reviewer with 4 audits is pulled strongly towards the team and a
reviewer with 400 barely moves.

References
----------
Kleinman, J. C. (1973). Proportions with extraneous variance: single and independent samples.
    JASA 68(341), 46-54.
Efron, B. & Morris, C. (1975). Data analysis using Stein's estimator and its generalizations.
    JASA 70(350), 311-319.
Gelman, A. et al. (2013). Bayesian Data Analysis, 3rd ed., ch. 5 (rat tumour example).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

__all__ = [
    "BetaPrior",
    "fit_beta_binomial",
    "moment_estimates",
    "beta_binomial_loglik",
    "weak_prior",
    "shrunk_rates",
]

_LOGIT_BOUND = 30.0


@dataclass(frozen=True)
class BetaPrior:
    """A Beta(alpha, beta) prior for reviewer accuracy.

    Attributes
    ----------
    alpha, beta
        Shape parameters (> 0).
    mean
        ``alpha / (alpha + beta)``.
    method
        ``"mle"``, ``"mom"`` or ``"fallback"`` (weak prior when the team is too small to fit).
    n_groups
        Number of reviewers (with at least one audit) used in the fit.
    note
        Human-readable remark, e.g. when no between-reviewer variation was detected and the
        concentration was capped (complete pooling), or why the fallback was used.
    """

    alpha: float
    beta: float
    mean: float
    method: str
    n_groups: int = 0
    note: str = ""

    @property
    def concentration(self) -> float:
        """``alpha + beta``: the prior's weight, in audits."""
        return self.alpha + self.beta

    @property
    def rho(self) -> float:
        """Intra-reviewer correlation ``1 / (alpha + beta + 1)`` (overdispersion)."""
        return 1.0 / (self.alpha + self.beta + 1.0)

    @property
    def sd(self) -> float:
        """Standard deviation of true accuracy across reviewers implied by the prior."""
        m = self.mean
        return float(np.sqrt(m * (1.0 - m) / (self.concentration + 1.0)))


def _clean(successes: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(successes, dtype=float).ravel()
    m = np.asarray(n, dtype=float).ravel()
    if x.shape != m.shape:
        raise ValueError(f"successes and n differ in length: {x.size} vs {m.size}")
    if np.any(~np.isfinite(x)) or np.any(~np.isfinite(m)):
        raise ValueError("successes and n must be finite")
    if np.any(m < 0) or np.any(x < 0) or np.any(x > m):
        raise ValueError("need 0 <= successes <= n for every reviewer")
    keep = m > 0
    return x[keep], m[keep]


def moment_estimates(successes: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    """Method-of-moments estimates ``(mean, rho)`` of a beta-binomial sample.

    The n-weighted (first-step Kleinman 1973, "ANOVA") estimator. With ``p_i = x_i / n_i``,
    ``N = sum n_i``, ``p = sum x_i / N`` and ``S = sum n_i (p_i - p)^2``,

        E[S] = p (1 - p) [ (k - 1) + rho (N - sum n_i^2 / N - (k - 1)) ],

    which is solved for ``rho = 1 / (alpha + beta + 1)``:

        rho = (S / (p (1 - p)) - (k - 1)) / (N - sum n_i^2 / N - (k - 1)).

    For equal ``n_i`` this is the classical moment estimator and the implied shrinkage
    weight ``n rho / (1 + (n - 1) rho)`` equals ``n/(n-1) * (1 - (k - 1) sigma^2 / sum (p_i - p)^2)``
    with ``sigma^2 = p (1 - p) / n``, i.e. the Efron-Morris (1975) positive-part
    James-Stein factor with ``k - 1`` in place of ``k - 3``.

    Parameters
    ----------
    successes, n
        Per-reviewer counts; reviewers with ``n == 0`` are ignored.

    Returns
    -------
    (mean, rho)
        ``rho`` may be ``<= 0`` (no overdispersion detected) and is not clipped here.

    Raises
    ------
    ValueError
        With fewer than 2 reviewers, or when every reviewer has exactly one audit
        (overdispersion not identifiable).
    """
    x, m = _clean(successes, n)
    k = x.size
    if k < 2:
        raise ValueError("need at least 2 reviewers with audits to estimate a prior")
    big_n = m.sum()
    p = x.sum() / big_n
    denom = big_n - (m**2).sum() / big_n - (k - 1)
    if denom <= 0:
        raise ValueError("overdispersion is not identifiable (every reviewer has one audit)")
    if p <= 0.0 or p >= 1.0:
        return float(p), 0.0
    s = (m * (x / m - p) ** 2).sum()
    rho = (s / (p * (1.0 - p)) - (k - 1)) / denom
    return float(p), float(rho)


def beta_binomial_loglik(alpha: float, beta: float, successes: np.ndarray, n: np.ndarray) -> float:
    """Beta-binomial log-likelihood ``sum log P(x_i | n_i, alpha, beta)`` (full, with constants)."""
    x, m = _clean(successes, n)
    return float(stats.betabinom.logpmf(x, m, alpha, beta).sum())


def _negloglik(theta: np.ndarray, x: np.ndarray, m: np.ndarray) -> tuple[float, np.ndarray]:
    """Negative log-likelihood in ``(logit mean, log concentration)`` and its gradient.

    Constants not depending on the parameters are dropped.
    """
    mu = special.expit(theta[0])
    c = np.exp(theta[1])
    a, b = mu * c, (1.0 - mu) * c
    f = -(special.betaln(x + a, m - x + b) - special.betaln(a, b)).sum()
    common = special.digamma(a + b) - special.digamma(m + a + b)
    d_a = (special.digamma(x + a) - special.digamma(a) + common).sum()
    d_b = (special.digamma(m - x + b) - special.digamma(b) + common).sum()
    dmu = mu * (1.0 - mu)
    grad = np.array([c * dmu * (d_a - d_b), c * (mu * d_a + (1.0 - mu) * d_b)])
    return float(f), -grad


def _prior_from(mean: float, concentration: float, method: str, k: int, note: str) -> BetaPrior:
    a = mean * concentration
    b = (1.0 - mean) * concentration
    return BetaPrior(
        alpha=float(a), beta=float(b), mean=float(mean), method=method, n_groups=k, note=note
    )


def fit_beta_binomial(
    successes: np.ndarray,
    n: np.ndarray,
    method: str = "mle",
    *,
    max_concentration: float = 1e4,
    min_concentration: float = 1e-2,
) -> BetaPrior:
    """Fit a Beta(alpha, beta) prior to per-reviewer ``(successes, n)`` counts.

    Parameters
    ----------
    successes, n
        Correct audits and audits per reviewer; reviewers with ``n == 0`` are ignored.
    method
        ``"mle"``: maximise the beta-binomial marginal log-likelihood
        (``scipy.optimize.minimize``, L-BFGS-B over logit-mean and log-concentration,
        started from the moment estimate and two other points; best optimum kept).
        ``"mom"``: closed-form moment estimator, see :func:`moment_estimates`.
    max_concentration
        Cap on ``alpha + beta``. When the data show no more spread than binomial noise
        (moment ``rho <= 0``, or the likelihood increasing towards complete pooling) the
        estimate sits at this cap and ``note`` says so: every reviewer is then shrunk almost
        entirely to the team mean, which is the honest empirical-Bayes answer when reviewers
        cannot be told apart.
    min_concentration
        Floor on ``alpha + beta`` (extreme overdispersion).

    Returns
    -------
    BetaPrior

    Raises
    ------
    ValueError
        Fewer than two reviewers with audits, pooled accuracy of exactly 0 or 1 (no proper
        Beta prior has that mean), invalid counts or unknown ``method``.
    """
    if method not in ("mle", "mom"):
        raise ValueError(f"method must be 'mle' or 'mom', got {method!r}")
    x, m = _clean(successes, n)
    k = x.size
    mean, rho = moment_estimates(x, m)
    if mean <= 0.0 or mean >= 1.0:
        raise ValueError(
            f"pooled rate is {mean:.0%}: a beta prior needs some successes and some failures"
        )
    cap_note = (
        f"no between-reviewer variation beyond binomial noise detected; concentration "
        f"capped at {max_concentration:g} (complete pooling)"
    )
    rho_min = 1.0 / (max_concentration + 1.0)
    rho_max = 1.0 / (min_concentration + 1.0)
    if method == "mom":
        note = cap_note if rho <= rho_min else ""
        rho_c = float(np.clip(rho, rho_min, rho_max))
        return _prior_from(mean, 1.0 / rho_c - 1.0, "mom", k, note)

    lo, hi = np.log(min_concentration), np.log(max_concentration)
    start_c = 1.0 / np.clip(rho, rho_min, rho_max) - 1.0
    starts = [
        (special.logit(mean), float(np.clip(np.log(start_c), lo, hi))),
        (special.logit(mean), float(np.clip(np.log(10.0), lo, hi))),
        (special.logit(mean), float(np.clip(np.log(1000.0), lo, hi))),
    ]
    bounds = [(-_LOGIT_BOUND, _LOGIT_BOUND), (lo, hi)]
    best = None
    for s in starts:
        res = optimize.minimize(
            _negloglik,
            np.asarray(s),
            args=(x, m),
            method="L-BFGS-B",
            jac=True,
            bounds=bounds,
            options={"ftol": 1e-14, "gtol": 1e-9, "maxiter": 2000},
        )
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    mu = float(special.expit(best.x[0]))
    log_c = float(best.x[1])
    note = cap_note if log_c >= hi - 1e-6 else ""
    return _prior_from(mu, float(np.exp(log_c)), "mle", k, note)


def weak_prior(center: float, strength: float = 4.0, note: str = "") -> BetaPrior:
    """A weak Beta prior with mean ``center`` worth ``strength`` audits.

    Used by the scorecards when the team is too small (fewer than 3 reviewers with audits)
    or too uniform (pooled accuracy 0 or 1) to estimate a prior.
    """
    if not 0.0 < center < 1.0:
        raise ValueError(f"center must be in (0, 1), got {center}")
    if strength <= 0:
        raise ValueError("strength must be positive")
    return BetaPrior(
        alpha=center * strength,
        beta=(1.0 - center) * strength,
        mean=float(center),
        method="fallback",
        n_groups=0,
        note=note,
    )


def shrunk_rates(
    successes: np.ndarray,
    n: np.ndarray,
    prior: BetaPrior,
    level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior mean and equal-tailed credible interval per reviewer.

    The posterior of reviewer *i* is ``Beta(alpha + x_i, beta + n_i - x_i)``; its mean is
    ``(alpha + x_i) / (alpha + beta + n_i)``. A reviewer with ``n_i = 0`` gets the prior.

    Parameters
    ----------
    successes, n
        Per-reviewer counts (array-likes of equal length).
    prior
        From :func:`fit_beta_binomial` or :func:`weak_prior`.
    level
        Credible level of the equal-tailed interval.

    Returns
    -------
    (posterior_mean, cred_low, cred_high)
        Float arrays aligned with the input.
    """
    x = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    if x.shape != m.shape:
        raise ValueError("successes and n differ in shape")
    a = prior.alpha + x
    b = prior.beta + m - x
    tail = (1.0 - level) / 2.0
    post_mean = a / (a + b)
    low = stats.beta.ppf(tail, a, b)
    high = stats.beta.ppf(1.0 - tail, a, b)
    return np.asarray(post_mean, float), np.asarray(low, float), np.asarray(high, float)
