"""Delivering a complete pack to its readers (a plan's ``deliver:`` and ``alerts:`` sections,
:mod:`reporting.run.delivery_plan`): the MBR summary by email to the plan's list (HTML body, the
MBR PDF attached, links to the rest), each team report by email to its own team lead only, a
Slack-compatible webhook message with the business status per market, and the alerts.

Server, credentials and webhook URL come from :func:`reporting.core.settings.delivery_settings`
(environment or config file), never from the plan. Standard library only: ``smtplib``, ``email``,
``urllib``. What was sent is logged in the pack's ``delivery.json``.

Team leads' addresses: the CSV named by ``$REPORTING_TEAM_LEADS`` (``team_lead,email``), else the
plan's rule ``team_lead_address`` (``{first}``, ``{last}``, ``{slug}`` of the name, ASCII,
lower case: "Ana Souza" -> first ``ana``, last ``souza``, slug ``ana.souza``). A lead with no
address is reported as not sent; their report goes to nobody else.
"""

from __future__ import annotations

import csv
import json
import smtplib
import ssl
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from reporting.core.errors import DeliveryError
from reporting.core.iorw import read_json, write_json
from reporting.core.settings import DeliverySettings, delivery_settings
from reporting.run.alerts import Alert, evaluate
from reporting.run.diff import MARKET, MBR, TEAM, Pack, diff_packs, load_pack, previous_pack_dir


@dataclass(frozen=True)
class Outgoing:
    """One message: an email (``to``, ``subject``, ``html``, ``text``, ``attachments``) or a
    webhook post (``payload``). ``about`` says which in words (for --dry-run and the log)."""

    kind: str
    about: str
    to: tuple[str, ...] = ()
    subject: str = ""
    html: str = ""
    text: str = ""
    attachments: tuple[Path, ...] = ()
    payload: Mapping[str, Any] = field(default_factory=dict)
    problem: str | None = None  # why it cannot be sent (e.g. no address for a team lead)

    def describe(self) -> str:
        """What would be sent, for ``--dry-run``."""
        if self.kind == "webhook":
            return f"webhook ({self.about}):\n{json.dumps(self.payload, indent=2, ensure_ascii=False)}"
        if self.problem:
            return f"email ({self.about}): NOT SENT: {self.problem}"
        files = ", ".join(f"{p.parent.name}.pdf" for p in self.attachments) or "none"
        return (f"email ({self.about}) to {', '.join(self.to)}\n  subject: {self.subject}\n"
                f"  attachments: {files}\n  body:\n    " + self.text.replace("\n", "\n    "))


def _ascii(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch if ch.isalnum() else " " for ch in plain.lower()).strip()


def lead_address(name: str, mapping: Mapping[str, str], rule: str | None) -> str | None:
    """The team lead's address: the mapping file's, else the plan's rule, else None."""
    if name in mapping:
        return mapping[name]
    if not rule:
        return None
    parts = _ascii(name).split()
    if not parts:
        return None
    return rule.format(first=parts[0], last=parts[-1], slug=".".join(parts))


def read_lead_addresses(path: Path | None) -> dict[str, str]:
    """``team_lead -> email`` from a CSV with those two columns.

    Raises
    ------
    DeliveryError
        Missing file, missing column, or a row without an address (file, row, expectation).
    """
    if path is None:
        return {}
    try:
        with Path(path).open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise DeliveryError(f"team-lead addresses {path}: cannot read it ({exc.strerror})") from None
    out = {}
    for i, row in enumerate(rows, start=2):
        if "team_lead" not in row or "email" not in row:
            raise DeliveryError(f"team-lead addresses {path}: needs the columns team_lead,email "
                                f"(found {', '.join(row)})")
        if "@" not in (row["email"] or ""):
            raise DeliveryError(f"team-lead addresses {path}, row {i}, column email: expected an "
                                f"address for {row['team_lead']!r}, got {row['email']!r}")
        out[row["team_lead"].strip()] = row["email"].strip()
    return out


class Links:
    """Where readers open the pack's files: ``$REPORTING_PACK_URL``, else the plan's ``links``
    (``{period}`` filled in), else ``file://`` URLs of the folder."""

    def __init__(self, pack: Pack, base: str | None):
        base = (base or "").format(period=pack.period)
        self.base = base.rstrip("/") + "/" if base else pack.path.resolve().as_uri() + "/"

    def __call__(self, relative: str) -> str:
        return self.base + relative


def _pdf(pack: Pack, jid: str) -> tuple[Path, ...]:
    p = pack.path / jid / "report.pdf"
    return (p,) if p.is_file() else ()


def _text_of_summary(mbr: Mapping[str, Any], index: str) -> str:
    lines = [str(s) for s in mbr.get("summary") or []][:6]
    return "\n".join([*lines, "", f"All reports: {index}"])


def _month_words(period: str) -> str:
    try:
        return datetime.strptime(period, "%Y-%m").strftime("%B %Y")
    except ValueError:
        return period


def mbr_message(pack: Pack, plan_deliver: Mapping[str, Any], links: Links,
                changes: Sequence[Mapping[str, Any]]) -> Outgoing | None:
    """The MBR summary email to the plan's list (None: no list, or no MBR in the pack)."""
    from reporting.render.delivery import summary_email

    to = tuple(plan_deliver["email"]["to"])
    mbrs = pack.of(MBR)
    if not to or not mbrs:
        return None
    jid, mbr = next(iter(mbrs.items()))
    markets = {str((r.get("params") or {}).get("market")): links(f"{j}/report.html")
               for j, r in sorted(pack.of(MARKET).items())}
    url = {"index": links("index.html"), "mbr": links(f"{jid}/report.html"),
           "changes": links("changes.html") if (pack.path / "changes.html").is_file() else None,
           "markets": markets}
    pdf = _pdf(pack, jid)
    html = summary_email(pack.manifest, pack.path, mbr, url, changes,
                         attached=f"{jid}.pdf" if pdf else None)
    first = next(iter(mbr.get("summary") or []), "")
    subject = plan_deliver["email"].get("subject") or \
        f"QA monthly business review, {_month_words(pack.period)}"
    return Outgoing("email", "MBR summary", to, subject.format(period=pack.period), html,
                    _text_of_summary(mbr, url["index"]) if first else url["index"], pdf)


def team_messages(pack: Pack, plan_deliver: Mapping[str, Any], links: Links,
                  addresses: Mapping[str, str], new_flags: Mapping[str, int]) -> list[Outgoing]:
    """Each team report to its own lead, and to nobody else."""
    from reporting.render.delivery import team_email

    email = plan_deliver["email"]
    if not email.get("team_leads"):
        return []
    out = []
    for jid, res in sorted(pack.of(TEAM).items()):
        lead = str((res.get("params") or {}).get("team_lead") or "")
        if not lead:
            continue
        to = lead_address(lead, addresses, email.get("team_lead_address"))
        about = f"team report of {lead}"
        if to is None:
            out.append(Outgoing("email", about, problem=f"no address for team lead {lead!r} "
                                "(add them to the team-lead address file, or give the plan a "
                                "team_lead_address rule)"))
            continue
        url = {"report": links(f"{jid}/report.html"),
               "changes": links(f"{jid}/changes.html")
               if (pack.path / jid / "changes.html").is_file() else None}
        pdf = _pdf(pack, jid)
        html = team_email(lead, pack.period, res, url, new_flags.get(lead),
                          f"{jid}.pdf" if pdf else None)
        out.append(Outgoing("email", about, (to,),
                            f"Your team's QA report, {_month_words(pack.period)}", html,
                            f"{lead}, your team's report for {pack.period}: {url['report']}\n"
                            "It is for you alone: please do not forward it.", pdf))
    return out


def alert_messages(pack: Pack, plan_deliver: Mapping[str, Any], links: Links,
                   alerts: Sequence[Alert]) -> list[Outgoing]:
    """The alerts, by email to the plan's list (the webhook carries them with the status)."""
    from reporting.render.delivery import alerts_email

    to = tuple(plan_deliver["email"]["to"])
    if not alerts or not to:
        return []
    url = {"index": links("index.html"),
           "changes": links("changes.html") if (pack.path / "changes.html").is_file() else None}
    records = [a.record() for a in alerts]
    return [Outgoing("email", "alerts", to,
                     f"QA alerts, {_month_words(pack.period)}: {len(alerts)} "
                     f"alert{'' if len(alerts) == 1 else 's'}",
                     alerts_email(pack.period, records, url),
                     "\n".join(a.text for a in alerts) + f"\n\nAll reports: {url['index']}")]


def compose(pack_dir: str | Path, plan, conf: DeliverySettings | None = None) -> list[Outgoing]:
    """Every message the plan's ``deliver:`` and ``alerts:`` sections send for the pack in
    ``pack_dir`` (nothing is sent)."""
    conf = conf or delivery_settings()
    pack = load_pack(pack_dir)
    section = plan.deliver or {"email": {"to": (), "team_leads": False}, "webhook": False,
                                "links": None}
    links = Links(pack, conf.pack_url or section.get("links"))
    prev = previous_pack_dir(pack.path, pack.period)
    diff = diff_packs(load_pack(prev), pack) if prev else None
    alerts = evaluate(plan.alerts, pack) if plan.alerts else []
    new_flags = {t.team_lead: len(t.new_flags) for t in diff.teams if t.compared} if diff else {}
    out: list[Outgoing] = []
    mbr = mbr_message(pack, section, links, diff.status_changes if diff else ())
    if mbr:
        out.append(mbr)
    out += team_messages(pack, section, links, read_lead_addresses(conf.team_leads_file),
                         new_flags)
    out += alert_messages(pack, section, links, alerts)
    if section.get("webhook"):
        out.append(_webhook(pack, links, alerts))
    return out


def _webhook(pack: Pack, links: Links, alerts: Sequence[Alert]) -> Outgoing:
    from reporting.render.delivery import webhook_message
    from reporting.render.index import business_status

    status = business_status(pack.manifest, pack.path)
    headline = status["headline"] if status else "The pack is ready."
    return Outgoing("webhook", "business status", payload=webhook_message(
        pack.manifest, pack.path, headline, links("index.html"), [a.record() for a in alerts]))


def email_message(out: Outgoing, sender: str) -> EmailMessage:
    """The MIME message: text and HTML alternatives, PDFs attached."""
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = out.subject, sender, ", ".join(out.to)
    msg["Date"], msg["Message-ID"] = formatdate(localtime=False), make_msgid(domain="qa-reporting")
    msg.set_content(out.text or out.subject)
    msg.add_alternative(out.html, subtype="html")
    for path in out.attachments:
        msg.add_attachment(path.read_bytes(), maintype="application", subtype="pdf",
                           filename=f"{path.parent.name}.pdf")
    return msg


def send_emails(messages: Sequence[Outgoing], conf: DeliverySettings, timeout: float = 30,
                sent: list[Outgoing] | None = None) -> None:
    """Send over one SMTP connection (STARTTLS and login when configured); each message sent is
    appended to ``sent`` (so a failure half-way still logs what went out).

    Raises
    ------
    DeliveryError
        The server cannot be reached or refuses a message (naming it and its recipients).
    """
    if not messages:
        return
    try:
        with smtplib.SMTP(conf.smtp_host or "", conf.smtp_port, timeout=timeout) as smtp:
            if conf.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if conf.smtp_user and conf.smtp_password:
                smtp.login(conf.smtp_user, conf.smtp_password)
            for out in messages:
                smtp.send_message(email_message(out, conf.mail_from))
                if sent is not None:
                    sent.append(out)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"email via {conf.smtp_host}:{conf.smtp_port} failed: "
                            f"{exc}") from None


def post_webhook(out: Outgoing, url: str, timeout: float = 30) -> None:
    """POST the JSON payload; any answer but 2xx is a :class:`DeliveryError`."""
    req = urllib.request.Request(url, data=json.dumps(out.payload).encode("utf-8"),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - configured URL
            resp.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"webhook refused the message: HTTP {exc.code} {exc.reason}") from None
    except (OSError, urllib.error.URLError) as exc:
        raise DeliveryError(f"webhook cannot be reached: {getattr(exc, 'reason', exc)}") from None


def _check_config(messages: Sequence[Outgoing], conf: DeliverySettings) -> None:
    if any(m.kind == "email" and not m.problem for m in messages) and not conf.smtp_host:
        raise DeliveryError("the plan delivers by email but no SMTP server is set: set "
                            "$REPORTING_SMTP_HOST (and $REPORTING_SMTP_PORT, ...) or [smtp] host "
                            "in the file named by $REPORTING_DELIVERY_CONFIG")
    if any(m.kind == "webhook" for m in messages) and not conf.webhook_url:
        raise DeliveryError("the plan posts to a webhook but none is set: set "
                            "$REPORTING_WEBHOOK_URL or [webhook] url in the delivery config file")


def deliver_pack(pack_dir: str | Path, plan, *, dry_run: bool = False,
                 conf: DeliverySettings | None = None) -> list[Outgoing]:
    """Compose and send (or with ``dry_run`` only compose) the pack's messages; log what was sent
    in ``<pack>/delivery.json``. Returns the messages.

    Raises
    ------
    DeliveryError
        Settings missing for what the plan sends (before anything is sent), or a server refused
        (the messages already sent are logged).
    """
    conf = conf or delivery_settings()
    messages = compose(pack_dir, plan, conf)
    if dry_run or not messages:
        return messages
    _check_config(messages, conf)
    done: list[Outgoing] = [m for m in messages if m.problem]  # logged as not sent
    try:
        send_emails([m for m in messages if m.kind == "email" and not m.problem], conf,
                    sent=done)
        for m in messages:
            if m.kind == "webhook":
                post_webhook(m, conf.webhook_url or "")
                done.append(m)
    finally:
        data_hash = str(load_pack(pack_dir).data_hash)
        _log_delivery(Path(pack_dir), [{**_logged(m), "data_hash": data_hash} for m in done])
    return messages


def already_delivered(pack_dir: str | Path) -> str | None:
    """When the pack, as built from its current data, was already sent (the time of the first
    message sent), else None: a re-run of a delivered pack does not send it twice."""
    pack_dir = Path(pack_dir)
    data_hash = load_pack(pack_dir).data_hash
    log = read_json(pack_dir / "delivery.json", default=[]) or []
    sent = [e for e in log if isinstance(e, dict) and e.get("status") == "sent"
            and e.get("data_hash") == data_hash]
    return str(sent[0].get("at")) if sent else None


def _logged(m: Outgoing) -> dict[str, Any]:
    return {"kind": m.kind, "about": m.about, "to": list(m.to), "subject": m.subject,
            "attachments": [p.name for p in m.attachments],
            "status": "not sent: " + m.problem if m.problem else "sent",
            "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}


def _log_delivery(pack_dir: Path, sent: list[dict[str, Any]]) -> None:
    if not sent:
        return
    log = read_json(pack_dir / "delivery.json", default=[]) or []
    write_json(pack_dir / "delivery.json", [*(log if isinstance(log, list) else []), *sent])
