"""Delivery, alerts and "what changed" on one real small pack (issue 17, part 3).

One pack is built once for the module (the MBR for BR, BR's market report, one team's report,
HTML and PDF, through the real engine); last month's pack beside it is a copy whose results.json
were edited to plant known changes (a status change, a flag that is new and one that cleared), so
every expected change below is known exactly. Mail goes to a real SMTP server (aiosmtpd) and the
webhook to a real HTTP server, both on localhost on free ports.
"""

from __future__ import annotations

import json
import shutil
import threading
from email import message_from_bytes
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from reporting.core.errors import DeliveryError, PlanError
from reporting.core.settings import DeliverySettings, delivery_settings
from reporting.run.alerts import evaluate
from reporting.run.deliver import compose, deliver_pack, lead_address
from reporting.run.diff import diff_packs, load_pack, write_changes
from reporting.run.plan import load_plan

TEAM = "individual_performance-Ana_Souza"
PLAN = {
    "name": "Delivery test pack",
    "jobs": [{"template": "monthly_business_review", "params": {"markets": ["BR"]}},
             {"template": "market_accuracy", "params": {"market": "BR"}},
             {"template": "individual_performance", "params": {"team_lead": "Ana Souza"}}],
    "deliver": {"links": "https://reports.example.com/qa/{period}/",
                "email": {"to": ["qa-leads@example.com", "mbr@example.com"], "team_leads": True},
                "webhook": True},
    "alerts": [{"rule": "off_track_months", "kpi": ["accuracy", "over_enforcement_rate"]},
               {"rule": "new_flag"}, {"rule": "crossed_target", "kpi": "accuracy"}],
}


def _edit(path: Path, fn) -> None:
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))


def _plant_september(pack: Path) -> dict:
    """Turn a copy of October's pack into "September's": BR accuracy on track above target, the
    team's first flag absent (so it is new in October) and one flag that October no longer has."""
    _edit(pack / "manifest.json", lambda m: m.update(period="2026-09"))
    planted = {}

    def market(doc):
        rec = next(k for k in doc["kpis"] if k["kpi"] == "accuracy" and k["scope"] == {"market": "BR"})
        rec.update(value=rec["target"] + 0.01, status="on_track")
    _edit(pack / "market_accuracy-BR" / "results.json", market)

    def team(doc):
        planted["new"] = doc["flags"].pop(0)["reviewer_id"]
        doc["flags"].append({"reviewer_id": "R99999", "kpi": "accuracy", "value": 0.8,
                             "reason": "planted: cleared in October"})
    _edit(pack / TEAM / "results.json", team)
    return planted


@pytest.fixture(scope="module")
def packs(sample_dataset, tmp_path_factory):
    from reporting import build_pack

    root = tmp_path_factory.mktemp("packs")
    plan_path = root / "plan.yaml"
    plan_path.write_text(yaml.safe_dump(PLAN))
    result = build_pack(plan_path, "2026-10", dataset=sample_dataset, out=root / "2026-10",
                        formats="html,pdf", jobs=2, progress=False, log=lambda m: None)
    assert result.ok, [r.error for r in result.failed]
    assert not (root / "2026-10" / "changes.html").exists()  # nothing to compare with yet
    shutil.copytree(root / "2026-10", root / "2026-09")
    planted = _plant_september(root / "2026-09")
    write_changes(root / "2026-10")  # what the engine does after a run, now with a sibling
    return {"root": root, "new": root / "2026-10", "old": root / "2026-09",
            "plan": load_plan(plan_path), "planted": planted}


# -- what changed --------------------------------------------------------------------------------

def test_diff_finds_the_planted_changes_and_keeps_individuals_off_pack_pages(packs):
    d = diff_packs(load_pack(packs["old"]), load_pack(packs["new"]))
    acc = [c for c in d.status_changes if c["market"] == "BR" and c["kpi"] == "accuracy"]
    assert acc and acc[0]["from_status"] == "on_track" and acc[0]["to_status"] != "on_track"
    team = next(t for t in d.teams if t.team_lead == "Ana Souza")
    assert [f["reviewer_id"] for f in team.new_flags] == [packs["planted"]["new"]]
    assert [f["reviewer_id"] for f in team.cleared_flags] == ["R99999"]
    # Unplanted KPIs did not change status: the copy is the same pack.
    assert all(c["market"] == "BR" and c["kpi"] == "accuracy" for c in d.status_changes)
    assert d.follow_up  # last month's MBR actions, judged on this month's change

    page = (packs["new"] / "changes.html").read_text()
    assert "Accuracy" in page and "Ana Souza" in page
    assert "Since 2026-09: worse in BR (accuracy); 1 team has new flags." in page
    assert packs["planted"]["new"] not in page and "R99999" not in page  # counts only
    team_page = (packs["new"] / TEAM / "changes.html").read_text()
    assert packs["planted"]["new"] in team_page and "R99999" in team_page
    assert not (packs["new"] / TEAM / "changes.html").stat().st_mode & 0o004  # not world-readable
    assert 'href="changes.html"' in (packs["new"] / "index.html").read_text()
    assert packs["planted"]["new"] not in json.dumps(d.records())


def test_cli_diff(packs):
    from click.testing import CliRunner

    from reporting.cli import main

    out = CliRunner().invoke(main, ["diff", str(packs["old"]), str(packs["new"]), "--json"])
    assert out.exit_code == 0, out.output
    rec = json.loads(out.output)
    assert rec["flags"][0] == {"team_lead": "Ana Souza", "report_id": TEAM, "new_flags": 1,
                               "cleared_flags": 1, "compared": True}
    bad = CliRunner().invoke(main, ["diff", str(packs["root"]), str(packs["new"])])
    assert bad.exit_code == 1 and "no readable manifest.json" in bad.output


# -- alerts --------------------------------------------------------------------------------------

def test_alert_rules(packs):
    alerts = evaluate(packs["plan"].alerts, load_pack(packs["new"]))
    got = {(a.rule, a.kpi, json.dumps(a.scope)) for a in alerts}
    br = json.dumps({"market": "BR"})
    # Over-enforcement is off track in both months (the copy keeps October's figure) ...
    over = next(k for k in load_pack(packs["new"]).results["market_accuracy-BR"]["kpis"]
                if k["kpi"] == "over_enforcement_rate" and k["scope"] == {"market": "BR"})
    assert (("off_track_months", "over_enforcement_rate", br) in got) == (
        over["status"] == "off_track")
    # ... accuracy is not (planted on track in September), but it crossed its target.
    assert ("off_track_months", "accuracy", br) not in got
    assert ("crossed_target", "accuracy", br) in got
    assert ("new_flag", None, json.dumps({"team_lead": "Ana Souza"})) in got
    assert all(packs["planted"]["new"] not in a.text for a in alerts)
    # Without last month's pack the rules that need it raise nothing.
    lone = packs["root"] / "lone" / "2026-10"
    shutil.copytree(packs["new"], lone)
    assert evaluate(packs["plan"].alerts, load_pack(lone)) == []


# -- delivery against real servers ---------------------------------------------------------------

class _Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((tuple(envelope.rcpt_tos), message_from_bytes(
            envelope.content, policy=email_policy)))
        return "250 OK"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    class FreePort(Controller):  # bind port 0, then learn the port the system gave
        def _trigger_server(self):
            self.port = self.server.sockets[0].getsockname()[1]
            super()._trigger_server()

    sink = _Sink()
    ctl = FreePort(sink, hostname="127.0.0.1", port=0)
    ctl.start()
    try:
        yield ctl.port, sink
    finally:
        ctl.stop()


@pytest.fixture
def webhook_server():
    posts, status = [], {"code": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            posts.append((self.headers["Content-Type"],
                          self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(status["code"])
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", posts, status
    finally:
        server.shutdown()
        server.server_close()


def _conf(port, url, tmp_path, leads=(("Ana Souza", "ana@example.com"),)):
    book = tmp_path / "leads.csv"
    book.write_text("team_lead,email\n" + "".join(f"{n},{e}\n" for n, e in leads))
    return DeliverySettings(smtp_host="127.0.0.1", smtp_port=port, webhook_url=url,
                            mail_from="qa@example.com", team_leads_file=book)


def test_delivery_to_local_smtp_and_webhook(packs, smtp_server, webhook_server, tmp_path):
    port, sink = smtp_server
    url, posts, _ = webhook_server
    pack = tmp_path / "2026-10"  # a copy: the delivery log must not touch the shared pack
    shutil.copytree(packs["new"], pack)
    shutil.copytree(packs["old"], tmp_path / "2026-09")
    deliver_pack(pack, packs["plan"], conf=_conf(port, url, tmp_path))

    by_subject = {m["Subject"]: (to, m) for to, m in sink.messages}
    assert len(sink.messages) == 3  # MBR summary, Ana Souza's team, alerts
    to, mbr = by_subject["QA monthly business review, October 2026"]
    assert set(to) == {"qa-leads@example.com", "mbr@example.com"}
    html = mbr.get_body(("html",)).get_content()
    assert "<script" not in html and "<style" not in html and 'style="' in html
    assert "https://reports.example.com/qa/2026-10/index.html" in html
    pdf = [p for p in mbr.iter_attachments()]
    assert [p.get_filename() for p in pdf] == ["monthly_business_review.pdf"]
    assert pdf[0].get_content().startswith(b"%PDF")
    team_to, team = by_subject["Your team's QA report, October 2026"]
    assert team_to == ("ana@example.com",)  # the team's report goes to its lead alone
    assert [p.get_filename() for p in team.iter_attachments()] == [f"{TEAM}.pdf"]
    reviewers = {r["reviewer_id"] for r in load_pack(pack).results[TEAM]["reviewers"]}
    for _, m in sink.messages:
        if m is not team:
            body = m.get_body(("html",)).get_content()
            assert not any(r in body for r in reviewers), m["Subject"]
    alerts = next(m for _, m in sink.messages if m["Subject"].startswith("QA alerts"))
    assert "crossed" not in alerts.get_body(("plain",)).get_content()  # words, not rule names

    assert len(posts) == 1 and posts[0][0] == "application/json"
    payload = json.loads(posts[0][1])
    assert payload["text"].startswith("QA reports 2026-10") and "*BR*" in json.dumps(payload)
    log = json.loads((pack / "delivery.json").read_text())
    assert [e["status"] for e in log] == ["sent"] * 4


def test_refused_webhook_and_missing_settings_are_errors(packs, webhook_server, tmp_path):
    url, _, status = webhook_server
    status["code"] = 500
    plan = packs["plan"]
    no_mail = type(plan)(plan.name, plan.jobs, plan.formats, plan.path,
                         {**plan.deliver, "email": {"to": (), "team_leads": False}}, ())
    with pytest.raises(DeliveryError, match="HTTP 500"):
        deliver_pack(packs["new"], no_mail, conf=DeliverySettings(webhook_url=url))
    with pytest.raises(DeliveryError, match="REPORTING_SMTP_HOST"):
        deliver_pack(packs["new"], plan, conf=DeliverySettings(webhook_url=url))


def test_team_lead_without_address_gets_nothing_and_nobody_else_gets_it(packs, tmp_path):
    conf = DeliverySettings(smtp_host="127.0.0.1", team_leads_file=None)
    messages = compose(packs["new"], packs["plan"], conf)
    team = [m for m in messages if m.about == "team report of Ana Souza"]
    assert team[0].problem and not team[0].to and not team[0].html
    assert lead_address("Ana Souza", {}, "{first}.{last}@example.com") == "ana.souza@example.com"
    assert lead_address("João Pé-Leve", {}, "{slug}@example.com") == "joao.pe.leve@example.com"


def test_dry_run_cli_sends_nothing(packs, tmp_path):
    from click.testing import CliRunner

    from reporting.cli import main

    out = CliRunner().invoke(main, ["deliver", str(packs["new"]), "--plan",
                                    str(packs["root"] / "plan.yaml"), "--dry-run"])
    assert out.exit_code == 0, out.output
    assert "would send email (MBR summary) to qa-leads@example.com, mbr@example.com" in out.output
    assert "monthly_business_review.pdf" in out.output and '"blocks"' in out.output
    assert not (packs["new"] / "delivery.json").exists()


def test_settings_from_environment_and_config_file(tmp_path):
    cfg = tmp_path / "delivery.toml"
    cfg.write_text('[smtp]\nhost = "mail.internal"\nport = 2525\npassword = "from-file"\n'
                   '[webhook]\nurl = "https://hooks.example.com/x"\n'
                   '[team_leads]\nfile = "leads.csv"\n')
    conf = delivery_settings({"REPORTING_DELIVERY_CONFIG": str(cfg),
                              "REPORTING_SMTP_PASSWORD": "from-env"})
    assert (conf.smtp_host, conf.smtp_port, conf.smtp_password) == ("mail.internal", 2525,
                                                                    "from-env")
    assert conf.webhook_url == "https://hooks.example.com/x"
    assert conf.team_leads_file == tmp_path / "leads.csv"


def test_alerts_need_somewhere_to_go(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({"jobs": [{"template": "data_overview"}],
                                    "alerts": [{"rule": "new_flag"}]}))
    with pytest.raises(PlanError, match="deliver: section"):
        load_plan(path)
    path.write_text(yaml.safe_dump({"jobs": [{"template": "data_overview"}],
                                    "deliver": {"webhook": True},
                                    "alerts": [{"rule": "no_such_rule"}]}))
    with pytest.raises(PlanError, match="off_track_months"):
        load_plan(path)


@pytest.mark.parametrize("deliver", [{"webhook": "https://hooks.example.com/x"},
                                     {"email": {"to": ["a@example.com"], "smtp_password": "x"}},
                                     {"smtp": {"host": "mail"}}])
def test_plan_refuses_secrets(tmp_path, deliver):
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({"jobs": [{"template": "data_overview"}], "deliver": deliver}))
    with pytest.raises(PlanError, match="REPORTING_WEBHOOK_URL|environment"):
        load_plan(path)


# -- corrections ---------------------------------------------------------------------------------

def test_rebuilt_period_with_changed_data_logs_corrections(sample_dataset, tmp_path):
    """The same report (the smallest template, which publishes each market's accuracy) built
    twice into one folder, the second time with 400 of BR's October audits removed:
    corrections.json names the changed figures, by how much, and both hashes."""
    import dataclasses

    from reporting import build_report

    out = tmp_path / "2026-10"
    kw = {"out": out, "formats": "html", "progress": False, "log": lambda m: None}
    first = build_report("data_overview", {"period": "2026-10"}, dataset=sample_dataset, **kw)
    assert first.ok and not (out / "corrections.json").exists()
    before = load_pack(out)
    a = sample_dataset.audits
    drop = a[(a["market"] == "BR") & (a["period"].astype(str) == "2026-10")].index[:400]
    changed = dataclasses.replace(sample_dataset, audits=a.drop(drop).reset_index(drop=True))
    assert build_report("data_overview", {"period": "2026-10"}, dataset=changed, **kw).ok
    after = load_pack(out)
    log = json.loads((out / "corrections.json").read_text())
    assert len(log) == 1 and log[0]["old_data_hash"] == before.data_hash
    assert log[0]["new_data_hash"] == after.data_hash != before.data_hash
    jid = "data_overview"
    acc = next(c for c in log[0]["changes"] if c["kpi"] == "accuracy"
               and c["scope"] == {"market": "BR"})
    old = next(k for k in before.results[jid]["kpis"] if k["kpi"] == "accuracy"
               and k["scope"] == {"market": "BR"})
    new = next(k for k in after.results[jid]["kpis"] if k["kpi"] == "accuracy"
               and k["scope"] == {"market": "BR"})
    assert acc["old_value"] == old["value"] and acc["new_value"] == new["value"]
    assert acc["change"] == pytest.approx(new["value"] - old["value"])
    assert old["n"] - new["n"] == 400
    assert {c["scope"]["market"] for c in log[0]["changes"]} == {"BR"}  # only BR's data changed
    page = (out / "changes.html").read_text()
    assert "Corrections to numbers published for 2026-10" in page and before.data_hash[:12] in page
    # `reporting diff` between the two builds of the month says the same.
    assert diff_packs(before, after).records()["corrections"] == log[0]["changes"]


def test_cli_run_delivers_a_complete_pack(sample_data, fixture_templates, webhook_server,
                                          tmp_path, monkeypatch):
    """`reporting run` sends only a complete pack: with a failed report it sends nothing; once
    every report is built, --dry-run shows the webhook message and posts nothing, a plain run
    posts it once, and a re-run does not post it again (the smallest template, 2 reports)."""
    import pandas as pd
    from click.testing import CliRunner

    from reporting.cli import main

    url, posts, _ = webhook_server
    monkeypatch.setenv("REPORTING_WEBHOOK_URL", url)
    # Four runs each load the data: a small slice of it (two markets' October audits) keeps it
    # quick; the template does not read it.
    data = tmp_path / "data"
    data.mkdir()
    audits = pd.read_csv(sample_data / "audits.csv", dtype=str)
    keep = audits["market"].isin(["US", "DE"]) & audits["decision_date"].str.startswith("2026-10")
    audits[keep].groupby("market").head(1000).to_csv(data / "audits.csv", index=False)
    plan = tmp_path / "plan.yaml"

    def write_plan(fail: bool) -> None:
        plan.write_text(yaml.safe_dump({
            "jobs": [{"template": "hello", "params": {"market": "US"}},
                     {"template": "hello", "params": {"market": "DE", "fail": fail}}],
            "deliver": {"webhook": True}}))

    write_plan(fail=True)
    args = ["run", str(plan), "--period", "2026-10", "--data", str(data),
            "--out", str(tmp_path / "2026-10"), "--format", "html"]
    failed = CliRunner().invoke(main, args)
    assert failed.exit_code == 1 and "not delivered: a report failed" in failed.output
    assert posts == []
    write_plan(fail=False)
    dry = CliRunner().invoke(main, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would send webhook (business status)" in dry.output and posts == []
    sent = CliRunner().invoke(main, args)
    assert sent.exit_code == 0, sent.output
    assert "sent: webhook (business status)" in sent.output
    assert len(posts) == 1 and json.loads(posts[0][1])["text"].startswith("QA reports 2026-10")
    again = CliRunner().invoke(main, args)  # e.g. a scheduler's retry: the same pack, same data
    assert again.exit_code == 0 and "not delivered again" in again.output and len(posts) == 1
