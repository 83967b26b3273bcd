"""Individual performance, fair to small samples.

Shrinkage (:mod:`.shrinkage`), funnel limits (:mod:`.funnel`), FDR-controlled flags and
recognition (:mod:`.flags`) and the per-reviewer scorecards that combine them
(:mod:`.scorecard`). Methods, fairness and privacy rules: ``docs/people.md``.
"""

from .flags import (
    FLAG_COLUMNS,
    NOT_JUDGED_COLUMNS,
    RECOGNITION_COLUMNS,
    audits_needed,
    bh_qvalues,
    binomial_pvalues,
    flag_reviewers,
    not_judged,
    recognition,
    reviewer_tests,
)
from .funnel import default_n_grid, funnel_limits, funnel_position, level_label
from .scorecard import (
    DEFAULT_ACCURACY_TARGET,
    KPI_COLUMNS,
    SCORECARD_COLUMNS,
    Scorecards,
    coaching_focus,
    resolve_target,
    reviewer_scorecards,
    scorecard_kpis,
)
from .shrinkage import (
    BetaPrior,
    beta_binomial_loglik,
    fit_beta_binomial,
    moment_estimates,
    shrunk_rates,
    weak_prior,
)

__all__ = [
    "BetaPrior",
    "DEFAULT_ACCURACY_TARGET",
    "FLAG_COLUMNS",
    "KPI_COLUMNS",
    "NOT_JUDGED_COLUMNS",
    "RECOGNITION_COLUMNS",
    "SCORECARD_COLUMNS",
    "Scorecards",
    "audits_needed",
    "beta_binomial_loglik",
    "bh_qvalues",
    "binomial_pvalues",
    "coaching_focus",
    "default_n_grid",
    "fit_beta_binomial",
    "flag_reviewers",
    "funnel_limits",
    "funnel_position",
    "level_label",
    "moment_estimates",
    "not_judged",
    "recognition",
    "resolve_target",
    "reviewer_scorecards",
    "reviewer_tests",
    "scorecard_kpis",
    "shrunk_rates",
    "weak_prior",
]
