"""The team report's new-hire section: the team's hiring cohorts by week since hire (accuracy
and productivity, with intervals), time to proficiency, and the graduation check (names: only
ever in that team's own report, see ``docs/people.md``).

Statistics are in :mod:`reporting.people.ramp` (accuracy) and :mod:`reporting.capacity.ramp`
(productivity); this module arranges them for one team and one month.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reporting.capacity.ramp import new_hire_production, productivity_ramp
from reporting.people.ramp import (
    GRADUATION_WEEKS,
    accuracy_ramp,
    graduation_check,
    time_to_proficiency,
)

__all__ = ["NewHireRamp", "new_hire_ramp"]

_GRAD_VIEW = {"reviewer_id": "reviewer", "cohort": "hired", "weeks_since_hire": "weeks in post",
              "n": "audits (last 4 weeks)", "accuracy": "accuracy", "ci_low": "95% CI low",
              "ci_high": "95% CI high", "status": "status"}


@dataclass(frozen=True, eq=False)
class NewHireRamp:
    """The team's new hires for one month.

    Attributes
    ----------
    scope, value : str
        The team's scope (``team_lead`` or ``market``) and its value.
    period : str
    target : float
        The accuracy target the team is judged against.
    accuracy : DataFrame
        :func:`reporting.people.ramp.accuracy_ramp` per cohort.
    productivity : DataFrame
        :func:`reporting.capacity.ramp.productivity_ramp` per cohort (the team's production).
    proficiency : DataFrame
        :func:`reporting.people.ramp.time_to_proficiency`.
    graduation : DataFrame
        :func:`reporting.people.ramp.graduation_check` (individuals).
    after_weeks : int
        Weeks after which a new hire should be at target.
    min_audits : int
        Audits a week needs to count for proficiency, and a reviewer to be judged.
    """

    scope: str
    value: str
    period: str
    target: float
    accuracy: pd.DataFrame
    productivity: pd.DataFrame
    proficiency: pd.DataFrame
    graduation: pd.DataFrame
    after_weeks: int = GRADUATION_WEEKS
    min_audits: int = 30

    @property
    def has_new_hires(self) -> bool:
        return bool(len(self.accuracy) or len(self.graduation))

    def sentences(self) -> list[str]:
        """What a lead reads: each cohort's time to proficiency, then who has not graduated."""
        out = [_cohort_sentence(r) for r in self.proficiency.to_dict(orient="records")]
        late = self.graduation[self.graduation["status"] == "below_target"]
        if len(self.graduation):
            k = len(self.graduation)
            out.append(f"{k} {'reviewer is' if k == 1 else 'reviewers are'} past "
                       f"{self.after_weeks} weeks in post (and under {2 * self.after_weeks}); "
                       f"{len(late)} of them still clearly below target on the last four weeks "
                       "of audits.")
        else:
            out.append(f"Nobody in the team is between {self.after_weeks} and "
                       f"{2 * self.after_weeks} weeks in post: no graduation check this month.")
        out.extend(late["text"])
        return out or ["No new hire in this team in the data (nobody hired since its first "
                       f"audit, nobody between {self.after_weeks} and {2 * self.after_weeks} "
                       "weeks in post)."]

    def how_note(self) -> str:
        """The methods, for "How this was computed"."""
        return ("New hires: accuracy by week since hire (week 1 = the first seven days) on random "
                "and new_hire audits, with Wilson 95% intervals; productivity (cases per "
                "productive hour) with a 95% t interval that treats each reviewer as one cluster. "
                "A cohort reaches proficiency in the first week from which every later week with "
                f"at least {self.min_audits} audits has an interval reaching the target (two "
                "weeks at least). "
                f"Graduation check: reviewers {self.after_weeks} to {2 * self.after_weeks} weeks "
                "in post, judged on the last four weeks of audits: below target when the Wilson "
                f"interval lies wholly below it, not judged under {self.min_audits} audits.")

    def graduation_view(self) -> pd.DataFrame:
        """The graduation check as a table (rates as fractions)."""
        return self.graduation[list(_GRAD_VIEW)].rename(columns=_GRAD_VIEW)

    def records(self) -> dict[str, Any]:
        """results.json: ``ramp`` (cohort x week, ``measure`` accuracy or productivity, scope
        team and cohort), ``proficiency`` and ``graduation``."""
        scope = {self.scope: self.value}
        ramp = [{"scope": {**scope, "cohort": r.pop("cohort")}, "measure": "accuracy",
                 **{k: v for k, v in r.items() if k != "scope"}}
                for r in self.accuracy.to_dict(orient="records")]
        ramp += [{"scope": {**scope, "cohort": r.pop("cohort")}, "measure": "productivity",
                  **{k: v for k, v in r.items() if k != "scope"}}
                 for r in self.productivity.to_dict(orient="records")]
        prof = [{"scope": {**scope, "cohort": r.pop("cohort")},
                 **{k: v for k, v in r.items() if k != "scope"}}
                for r in self.proficiency.to_dict(orient="records")]
        grad = self.graduation.assign(hire_date=self.graduation["hire_date"].astype(str))
        return {"ramp": ramp, "proficiency": prof, "graduation": grad}

    def tables(self) -> list[tuple[str, pd.DataFrame, dict[str, str]]]:
        """Sheets: the ramp (one row per cohort, week and measure, to pivot) and the check."""
        pct = "0.0%"
        acc = self.accuracy.rename(columns={"accuracy": "value"}).assign(measure="accuracy")
        prod = self.productivity.rename(columns={
            "productivity": "value", "productivity_ci_low": "ci_low",
            "productivity_ci_high": "ci_high"}).assign(measure="cases per productive hour")
        cols = ["team", "cohort", "week", "measure", "reviewers", "n", "value", "ci_low",
                "ci_high", "target", "factor", "factor_ci_low", "factor_ci_high"]
        parts = [p for p in (acc, prod) if len(p)]
        sheet = (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols))
        sheet = sheet.assign(team=self.value).reindex(columns=cols)
        grad = self.graduation.assign(hire_date=self.graduation["hire_date"].astype(str))
        return [("New-hire ramp", sheet, {}),
                ("Graduation check", grad, {c: pct for c in ("accuracy", "ci_low", "ci_high",
                                                             "target")})]


def _cohort_sentence(r: dict) -> str:
    one = r["reviewers"] == 1
    who = ("The reviewer" if one else f"The {r['reviewers']} reviewers") + \
        f" hired in {r['cohort']}"
    if np.isfinite(r["proficient_week"]):
        return (f"{who} reached the {r['target']:.0%} accuracy target in week "
                f"{int(r['proficient_week']) + 1} after hire and stayed there "
                f"({r['weeks_observed']} weeks seen).")
    return (f"{who} {'has' if one else 'have'} not reached the {r['target']:.0%} accuracy "
            f"target in the {r['weeks_observed']} weeks seen.")


def new_hire_ramp(audits: pd.DataFrame, production: pd.DataFrame | None,
                  roster: pd.DataFrame | None, period: str, target: float, scope: str,
                  value: str, *, after_weeks: int = GRADUATION_WEEKS,
                  min_audits: int = 30, level: float = 0.95) -> NewHireRamp:
    """The team's new-hire section for ``period`` (audits and production of the team over the
    months before it; the check is made on the last day of ``period``)."""
    as_of = pd.Period(period, freq="M").end_time.normalize()
    upto = audits[(pd.to_datetime(audits["decision_date"]) <= as_of).to_numpy()] \
        if len(audits) else audits
    acc = accuracy_ramp(upto, roster, target=target, scope=value, level=level)
    prod = pd.DataFrame()
    if production is not None and len(production):
        prod = productivity_ramp(new_hire_production(production, roster, as_of), scope=value,
                                 level=level)
    grad = graduation_check(upto, _team_roster(roster, upto, scope, value), as_of, target,
                            after_weeks=after_weeks, min_audits=min_audits, level=level)
    return NewHireRamp(scope, value, period, float(target), acc, prod,
                       time_to_proficiency(acc, min_audits=min_audits), grad, after_weeks,
                       min_audits)


def _team_roster(roster: pd.DataFrame | None, audits: pd.DataFrame, scope: str,
                 value: str) -> pd.DataFrame | None:
    """The team's members on the roster (by team lead, or market), never anyone else."""
    if roster is None or not len(roster):
        return roster
    col = "team_lead" if scope == "team_lead" else "market"
    if col not in roster.columns:
        ids = set(audits["reviewer_id"].astype(str))
        return roster[roster["reviewer_id"].astype(str).isin(ids)]
    return roster[(roster[col].astype(str) == str(value)).to_numpy()]
