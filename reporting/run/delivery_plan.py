"""The ``deliver:`` and ``alerts:`` sections of a plan, checked when the plan is read.

```yaml
deliver:
  links: https://reports.example.com/qa/{period}/   # where readers open the pack (optional)
  email:
    to: [qa-leads@example.com]          # the MBR summary (HTML body, MBR PDF attached)
    team_leads: true                    # each team report to its own lead, and only to them
    team_lead_address: "{first}.{last}@example.com"   # the rule when no mapping file names them
  webhook: true                         # business status to $REPORTING_WEBHOOK_URL (Slack JSON)
alerts:
  - rule: off_track_months              # a market off track N months running
    kpi: accuracy
    months: 2
  - rule: new_flag                      # a new flag in a team (counts, never who)
  - rule: crossed_target                # a market KPI on the other side of its target
    kpi: [accuracy, missed_violation_rate]
```

Server names, passwords and webhook URLs never go in a plan (plans are shared and versioned):
they come from the environment or the delivery config file
(:func:`reporting.core.settings.delivery_settings`); a plan that holds one is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reporting.core.errors import PlanError

DELIVER_KEYS = {"links", "email", "webhook"}
EMAIL_KEYS = {"to", "team_leads", "team_lead_address", "subject"}
RULES = {"off_track_months": {"kpi", "months"}, "new_flag": set(),
         "crossed_target": {"kpi"}}
#: Keys that would put a secret or a server in the plan.
SECRET_WORDS = ("password", "secret", "token", "host", "smtp", "url", "user")


def _secret_keys(section: Mapping[str, Any], where: str, path: Path) -> None:
    for key, value in section.items():
        if any(w in str(key).lower() for w in SECRET_WORDS):
            raise PlanError(
                f"plan {path}, {where}: {key!r} does not belong in a plan (plans are shared in "
                "clear text): set the SMTP server, credentials and webhook URL in the environment "
                "($REPORTING_SMTP_HOST, $REPORTING_SMTP_PASSWORD, $REPORTING_WEBHOOK_URL, ...) or "
                "in the file named by $REPORTING_DELIVERY_CONFIG (docs/scheduling.md)")
        if isinstance(value, Mapping):
            _secret_keys(value, f"{where}.{key}", path)


def _addresses(value: Any, path: Path) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(a, str) and "@" in a for a in items):
        raise PlanError(f"plan {path}, deliver.email.to: a list of email addresses, got {value!r}")
    return tuple(items)


def check_deliver(section: Any, path: Path) -> dict[str, Any] | None:
    """The checked ``deliver:`` section (None when the plan has none)."""
    if section is None:
        return None
    if not isinstance(section, Mapping):
        raise PlanError(f"plan {path}, deliver: a mapping with {sorted(DELIVER_KEYS)}")
    _secret_keys(section, "deliver", path)
    unknown = set(section) - DELIVER_KEYS
    if unknown:
        raise PlanError(f"plan {path}, deliver: unknown keys {sorted(unknown)} "
                        f"(allowed: {', '.join(sorted(DELIVER_KEYS))})")
    email = section.get("email") or {}
    if not isinstance(email, Mapping) or set(email) - EMAIL_KEYS:
        raise PlanError(f"plan {path}, deliver.email: a mapping with keys among "
                        f"{', '.join(sorted(EMAIL_KEYS))}")
    webhook = section.get("webhook", False)
    if not isinstance(webhook, bool):
        raise PlanError(f"plan {path}, deliver.webhook: true or false (the URL itself goes in "
                        "$REPORTING_WEBHOOK_URL or the delivery config file)")
    out = {"links": section.get("links"), "webhook": webhook,
           "email": {"to": _addresses(email.get("to") or [], path),
                     "team_leads": bool(email.get("team_leads", False)),
                     "team_lead_address": email.get("team_lead_address"),
                     "subject": email.get("subject")}}
    return out


def check_alerts(section: Any, path: Path, deliver: Mapping[str, Any] | None = None
                 ) -> tuple[dict[str, Any], ...]:
    """The checked ``alerts:`` rules (empty when the plan has none). Alerts go where the
    ``deliver:`` section sends (``email.to``, the webhook): without either they would go nowhere,
    which is an error."""
    if section is None:
        return ()
    if not deliver or not (deliver["email"]["to"] or deliver["webhook"]):
        raise PlanError(f"plan {path}, alerts: they are sent to deliver.email.to and the webhook; "
                        "give the plan a deliver: section with either")
    if not isinstance(section, list):
        raise PlanError(f"plan {path}, alerts: a list of rules ({', '.join(sorted(RULES))})")
    out = []
    for i, rule in enumerate(section, start=1):
        name = rule.get("rule") if isinstance(rule, Mapping) else None
        if name not in RULES:
            raise PlanError(f"plan {path}, alert {i}: 'rule:' must be one of "
                            f"{', '.join(sorted(RULES))}, got {name!r}")
        unknown = set(rule) - RULES[name] - {"rule"}
        if unknown:
            raise PlanError(f"plan {path}, alert {i} ({name}): unknown keys {sorted(unknown)} "
                            f"(allowed: {', '.join(sorted(RULES[name])) or 'none'})")
        months = rule.get("months", 2)
        if not isinstance(months, int) or months < 2:
            raise PlanError(f"plan {path}, alert {i} ({name}): months must be a whole number "
                            f"of at least 2, got {months!r}")
        kpis = rule.get("kpi", "accuracy")
        out.append({"rule": name, "kpi": tuple([kpis] if isinstance(kpis, str) else kpis),
                    "months": months})
    return tuple(out)
