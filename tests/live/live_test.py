#!/usr/bin/env python3
"""live_test.py - tandem's live connectors end to end, against the API
emulator (tests/emulator): each shipped rule file run over seeded accounts
with the final records, tags and lists asserted and a rerun that changes
nothing; the faults the emulator injects, each ending with no record lost
or duplicated after a rerun; secrets kept out of every output; the request
count of a 1,000-record write.

usage: tests/live/live_test.py BUILD_DIR [TEST_NAME...]
"""
import json
import os
import re
import sqlite3
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, no_secrets  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"


def run(emu, rules, state, *extra, env=None):
    e = emu.env()
    e.update(env or {})
    rc, out, err = harness.tandem(BUILD, ["run", rules, "--now", "--state", state] + list(extra), e)
    no_secrets(out, err)
    return rc, out, err


def applied(out):
    m = re.search(r"Applied (\d+) change", out)
    return int(m.group(1)) if m else -1


def by(rows, key, value):
    hits = [r for r in rows if str(r.get(key, "")).lower() == str(value).lower()]
    return hits


def one(rows, key, value):
    hits = by(rows, key, value)
    check(len(hits) == 1, "%d records with %s = %s, not 1" % (len(hits), key, value))
    return hits[0]


def ac_tags(st, contact_id):
    names = {t["id"]: t["tag"] for t in st["activecampaign"].get("tags", [])}
    return sorted(names.get(ct["tag"], "?") for ct in st["activecampaign"].get("contactTags", [])
                  if ct["contact"] == contact_id)


def ac_field(st, contact_id, title):
    ids = [f["id"] for f in st["activecampaign"].get("fields", []) if f["title"] == title]
    vals = [v["value"] for v in st["activecampaign"].get("fieldValues", [])
            if v["contact"] == contact_id and v["field"] in ids]
    return vals[0] if vals else None


def counts(st):
    """Records per system and object: what a duplicate or a loss changes."""
    out = {}
    for sysname, objs in st.items():
        if isinstance(objs, dict):
            for obj, rows in objs.items():
                if isinstance(rows, list):
                    out[sysname + "." + obj] = len(rows)
    return out


def post_as_user(emu, token_path, form, path, fields, headers=None):
    """A write made in a system by someone else, through its own API: an
    OAuth token from token_path, then POST path with fields as JSON."""
    def post(url, data, hdrs):
        req = urllib.request.Request(emu.base + url, data=data, method="POST", headers=hdrs)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())
    token = post(token_path, urllib.parse.urlencode(form).encode(),
                 {"Content-Type": "application/x-www-form-urlencoded"})["access_token"]
    hdrs = {"Content-Type": "application/json", "Authorization": "Bearer " + token}
    hdrs.update(headers or {})
    return post(path, json.dumps(fields).encode(), hdrs)


def sf_create(emu, obj, fields):
    c = harness.CREDENTIALS["salesforce"]
    form = {"grant_type": "refresh_token", "client_id": c["client_id"], "client_secret": c["client_secret"],
            "refresh_token": c["refresh_token"]}
    return post_as_user(emu, "/sf/services/oauth2/token", form, "/sf/services/data/v60.0/sobjects/" + obj, fields)["id"]


def d365_create(emu, entity_set, fields):
    c = harness.CREDENTIALS["dynamics365"]
    form = {"grant_type": "client_credentials", "client_id": c["client_id"], "client_secret": c["client_secret"],
            "scope": emu.base + "/d365/.default"}
    return post_as_user(emu, "/d365/login/%s/oauth2/v2.0/token" % c["tenant_id"], form,
                        "/d365/api/data/v9.2/" + entity_set, fields, {"Prefer": "return=representation"})


def state_has_no_secrets(path):
    db = sqlite3.connect(path)
    try:
        text = "\n".join(str(row) for t in db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
                         for row in db.execute("SELECT * FROM \"%s\"" % t[0]))
    finally:
        db.close()
    no_secrets(text)


# ------------------------------------------------------------ end to end

def ac_salesforce(tmp):
    """ActiveCampaign and Salesforce, as shipped (initial sync off: the
    first run only starts the clock; edits after it sync); then --record
    replays, and a lead converted in Salesforce hands over its link (B17)."""
    emu = harness.Emulator(harness.seed_from_examples("activecampaign-salesforce"), tmp)
    try:
        rules = harness.shipped_rules("activecampaign-salesforce", tmp)
        state = os.path.join(tmp, "state.db")
        rec = os.path.join(tmp, "recorded")
        rc, out, err = run(emu, rules, state)
        check(rc == 0 and applied(out) == 0, "first run: exit %d, %s %s" % (rc, out[-300:], err))
        st = emu.state()
        for lead in st["salesforce"]["Lead"]:
            emu.touch("sf", "Lead", lead["Id"], {})
        for c in st["activecampaign"]["contacts"]:
            emu.touch("ac", "contacts", c["id"], {})
        rc, out, err = run(emu, rules, state, "--record", rec)
        check(rc == 0, "second run: exit %d: %s" % (rc, err))
        check(applied(out) == 11, "second run applied %d changes, not 11:\n%s" % (applied(out), out))
        st = emu.state()
        ac = st["activecampaign"]["contacts"]
        ann = one(ac, "email", "ann@acme.example")
        check(ann["firstName"] == "Ann" and ann["lastName"] == "Lee" and ann["phone"] == "+1 555 0100", "ann's fields")
        check(ac_tags(st, ann["id"]) == ["created-from-salesforce-lead"], "ann's tags: %s" % ac_tags(st, ann["id"]))
        check(ac_field(st, ann["id"], "Annual Revenue") == "$1,250,000.50", "B08 formatted revenue")
        check(ac_field(st, ann["id"], "Region") == "EMEA", "Region")
        one(ac, "email", "olga@oldco.example")
        kai = one(ac, "email", "kai@kaico.example")
        check(ac_field(st, kai["id"], "Industry") == "Energy" and kai.get("orgname") == "Kaico", "kai updated")
        leads = st["salesforce"]["Lead"]
        bob = one(leads, "Email", "bob@bobco.example")
        check(bob["Company"] == "Bobco" and bob["ActiveCampaign_Sync_Status__c"] == "Synced", "bob's lead")
        check(bob.get("OwnerId") == "00G000000000001AAA", "B34: Sforce-Auto-Assign TRUE on the created lead")
        check(ac_tags(st, one(ac, "email", "bob@bobco.example")["id"]) == ["added-to-salesforce-lead"], "B15 tag")
        check(one(leads, "Email", "ann@acme.example")["ActiveCampaign_Sync_Status__c"] == "Synced", "B27 status")
        check(not by(leads, "Email", "nocompany@example.com"), "a contact without a company makes no lead")
        # --record wrote the answers in the replay layout, without credentials
        check(os.path.isdir(os.path.join(rec, "sf", "Lead")) and os.path.exists(os.path.join(rec, "ac", "tags.json")),
              "--record layout")
        for d, _, files in os.walk(rec):
            for f in files:
                no_secrets(harness.file_text(os.path.join(d, f)))
        state_has_no_secrets(state)
        # the rerun reads tandem's own writes back and changes nothing
        before = emu.state()
        rc, out, err = run(emu, rules, state)
        check(rc == 0 and applied(out) == 0, "rerun applied %d: %s" % (applied(out), out))
        check(emu.state() == before, "the rerun changed the systems")
        # the recorded answers replay to the same plan a live plan makes now
        rc, out, err = harness.tandem(BUILD, ["plan", rules, "--replay", rec, "--state", os.path.join(tmp, "r.db"),
                                              "--json"], emu.env())
        check(rc in (0, 2), "plan over the recording: exit %d: %s" % (rc, err))
        json.loads(out)
        # B17: the lead is converted in Salesforce; the link and the tags follow
        contact_id = sf_create(emu, "Contact", {"FirstName": "Ann", "LastName": "Lee", "Email": "ann@acme.example"})
        lead = one(emu.state()["salesforce"]["Lead"], "Email", "ann@acme.example")
        emu.touch("sf", "Lead", lead["Id"], {"IsConverted": True, "Status": "Closed - Converted",
                                             "ConvertedContactId": contact_id})
        rc, out, err = run(emu, rules, state)
        check(rc == 0 and "convert" in out, "the conversion was not read: %s %s" % (err, out))
        st = emu.state()
        check(ac_tags(st, ann["id"]) == ["created-from-salesforce-contact", "salesforce-lead-converted-to-contact"],
              "tags after the conversion: %s" % ac_tags(st, ann["id"]))
    finally:
        emu.stop()


def gr_salesforce(tmp):
    """GetResponse and Salesforce, as shipped (initial sync on)."""
    emu = harness.Emulator(harness.seed_from_examples("getresponse-salesforce"), tmp)
    try:
        rules = harness.shipped_rules("getresponse-salesforce", tmp)
        state = os.path.join(tmp, "state.db")
        before = counts(emu.state())
        rc, out, err = run(emu, rules, state)
        check(rc == 0 and applied(out) > 0, "first run: exit %d: %s %s" % (rc, out[-500:], err))
        st = emu.state()
        check(counts(st) != before, "the first run wrote nothing")
        verify_gr_salesforce(st, out)
        state_has_no_secrets(state)
        # GetResponse creates contacts asynchronously: the second run pairs
        # them by e-mail; the third has nothing left
        run(emu, rules, state)
        mid = emu.state()
        rc, out, err = run(emu, rules, state)
        check(rc == 0 and applied(out) == 0, "rerun applied %d:\n%s" % (applied(out), out))
        check(emu.state() == mid, "the rerun changed the systems")
        check(counts(mid) == counts(st), "records were duplicated: %s vs %s" % (counts(mid), counts(st)))
    finally:
        emu.stop()


def gr_field(contact, field_id):
    vals = [v["value"] for v in contact.get("customFieldValues", []) if v["customFieldId"] == field_id]
    return vals[0] if vals else None


def verify_gr_salesforce(st, out):
    gr = st["getresponse"]["contacts"]
    sf = st["salesforce"]
    # every Salesforce contact with an e-mail is in GetResponse once
    for c in sf.get("Contact", []):
        if c.get("Email"):
            check(len(by(gr, "email", c["Email"])) == 1, "%s not in GetResponse once" % c["Email"])
    mary = one(gr, "email", "mary@acme.example")
    check(mary["name"] == "Mary Ann van der Berg" and mary["campaign"]["campaignId"] == "n3wS", "mary in Newsletter")
    ann = one(gr, "email", "ann@acme.example")
    check(gr_field(ann, "cf2") == ["+49 30 5550100"], "ann's phone custom field: %s" % gr_field(ann, "cf2"))
    check(one(sf["Contact"], "Id", "0031")["MailingCountry"] == "Austria", "the country came back from GetResponse")
    dora = one(sf["Lead"], "Email", "dora@example.com")
    check(dora["LastName"] == "Vale" and dora["Company"] == "[not provided]" and dora["LeadSource"] == "GetResponse",
          "dora's lead: %s" % dora)
    # mary, created in GetResponse by one sync, is not made a lead by the next
    check(not by(sf["Lead"], "Email", "mary@acme.example"), "a contact tandem created became a lead")


def ac_dynamics(tmp):
    """ActiveCampaign and Dynamics 365, as shipped (initial sync on); leads
    read through change tracking, contacts (a table without it) by
    modifiedon; a lead deleted in Dynamics reaches the sync, a stale delta
    link is recovered from, and a qualified lead hands its link to the
    contact it made."""
    seed = d365_seed(1)
    seed["dynamics365"]["untracked"] = ["contacts"]
    emu = harness.Emulator(seed, tmp)
    try:
        rules = harness.shipped_rules("activecampaign-dynamics365", tmp)
        state = os.path.join(tmp, "state.db")
        rc, out, err = run(emu, rules, state)
        check(rc == 0 and applied(out) > 0, "first run: exit %d: %s %s" % (rc, out[-800:], err))
        st = emu.state()
        verify_ac_dynamics(st, out)
        state_has_no_secrets(state)
        rc, out, err = run(emu, rules, state)
        check(rc == 0 and applied(out) == 0, "rerun applied %d:\n%s" % (applied(out), out))
        check(emu.state() == st, "the rerun changed the systems")
        reads = [e["query"] for e in emu.log() if e["system"] == "d365" and e["method"] == "GET"]
        check(any("deltatoken" in q for q in reads), "leads were not read through their delta link")
        check(any("modifiedon" in q and "contactid" in q for q in reads), "contacts were not read by modifiedon")
        bea = one(st["dynamics365"]["leads"], "emailaddress1", "bea@fabrikam.example")
        emu.call("POST", "/__delete", {"system": "d365", "object": "leads", "id": bea["leadid"]})
        rc, out, err = run(emu, rules, state)
        check(rc == 0 and re.search(r"info d365.lead %s: deleted; its partner is kept" % bea["leadid"], out),
              "the delete in Dynamics was not read: %s" % out)
        one(emu.state()["activecampaign"]["contacts"], "email", "bea@fabrikam.example")
        # a delta link Dataverse no longer takes: read again from the start
        db = sqlite3.connect(state)
        db.execute("UPDATE cursors SET value = substr(value, 1, instr(value, ' ')) || ? WHERE value LIKE '% %'",
                   (emu.base + "/d365/api/data/v9.2/leads?$deltatoken=expired",))
        db.commit()
        db.close()
        before = emu.state()
        rc, out, err = run(emu, rules, state)
        check(rc == 0 and applied(out) == 0 and emu.state() == before, "after a stale delta link: %s %s" % (err, out))
        check(any(e["status"] == 400 and "expired" in e["query"] for e in emu.log()), "the stale link was not tried")
        # a lead qualified in Dynamics: the contact it made is found by its
        # originating lead, and the link and tags move to it
        lid = one(emu.state()["dynamics365"]["leads"], "emailaddress1", "buyer0@example.org")["leadid"]
        d365_create(emu, "contacts", {"firstname": "Buy", "lastname": "Er0", "emailaddress1": "buyer0@example.org",
                                      "originatingleadid@odata.bind": "/leads(%s)" % lid})
        emu.touch("d365", "leads", lid, {"statecode": 1})
        rc, out, err = run(emu, rules, state)
        check(rc == 0 and re.search(r"d365.lead %s .*converted to contact" % lid, out),
              "the qualification was not read: %s %s" % (err, out))
        buyer = one(emu.state()["activecampaign"]["contacts"], "email", "buyer0@example.org")
        check("[D365: Contact]" in ac_tags(emu.state(), buyer["id"]), "the contact tag did not follow")
    finally:
        emu.stop()


def verify_ac_dynamics(st, out):
    ac = st["activecampaign"]["contacts"]
    bea = one(st["dynamics365"]["leads"], "emailaddress1", "bea@fabrikam.example")
    check(bea["firstname"] == "Bea" and bea["lastname"] == "Neri" and bea["subject"] == "ActiveCampaign",
          "bea's lead: %s" % bea)
    carla = one(ac, "email", "carla@contoso.example")
    check(carla["firstName"] == "Carla" and carla["lastName"] == "Bianchi", "carla's contact")
    check(ac_tags(st, carla["id"]) == ["[D365: Contact]", "[D365: Pushed from Dynamics]"],
          "carla's tags: %s" % ac_tags(st, carla["id"]))


# ---------------------------------------------------------------- faults

def gr_seed(extra):
    """The GetResponse example with `extra` more newsletter contacts, so
    Salesforce gets a batch of new leads."""
    seed = harness.seed_from_examples("getresponse-salesforce")
    for i in range(extra):
        seed["getresponse"]["contacts"].append({
            "contactId": "x%04d" % i, "email": "reader%d@example.org" % i, "name": "Reader Number%d" % i,
            "campaign": {"campaignId": "n3wS", "name": "Newsletter"}, "tags": [], "customFieldValues": [],
            "createdOn": "2026-11-01T09:00:00+0000", "changedOn": "2026-11-01T09:00:00+0000"})
    return seed


EXTRA = 5   # with dora: six new leads, one composite request


def settled(emu, rules, state, tmp):
    """After a fault: reruns until a run applies nothing (at most three),
    then checks every record is there once."""
    for _ in range(3):
        rc, out, err = run(emu, rules, state)
        if rc == 0 and applied(out) == 0:
            break
    check(rc == 0 and applied(out) == 0, "the reruns did not settle: exit %d, applied %d: %s" % (rc, applied(out), err))
    st = emu.state()
    verify_gr_salesforce(st, "")
    leads = st["salesforce"]["Lead"]
    for i in range(EXTRA):
        one(leads, "Email", "reader%d@example.org" % i)
    check(len(leads) == EXTRA + 1, "%d leads, not %d" % (len(leads), EXTRA + 1))
    check(len(st["getresponse"]["contacts"]) == EXTRA + 4, "GetResponse contacts lost or duplicated")
    return st


def faulted(tmp, fault, expect_rc, expect_err=None, env=None):
    emu = harness.Emulator(gr_seed(EXTRA), tmp)
    try:
        rules = harness.shipped_rules("getresponse-salesforce", tmp)
        state = os.path.join(tmp, "state.db")
        for f in fault if isinstance(fault, list) else [fault]:
            emu.fault(**f)
        rc, out, err = run(emu, rules, state, env=env)
        check(rc == expect_rc, "exit %d, not %d: %s" % (rc, expect_rc, err or out[-400:]))
        if expect_err:
            check(re.search(expect_err, err + out), "no %r in: %s" % (expect_err, err + out[-600:]))
        check("Traceback" not in err and "Sanitizer" not in err, "crashed: %s" % err)
        served = [e["status"] for e in emu.log()]
        for f in fault if isinstance(fault, list) else [fault]:
            want = f.get("status") or {"limit": 403, "expire-token": 401}.get(f["kind"])
            if want:
                check(want in served, "the fault (%s %s) was never served" % (f["kind"], want))
        settled(emu, rules, state, tmp)
    finally:
        emu.stop()


def fault_429_retry_after(tmp):
    """429 with Retry-After on reads: waited out, the run goes through."""
    faulted(tmp, [{"system": "sf", "method": "GET", "path": "/query", "kind": "status", "status": 429,
                   "retry_after": 1, "times": 2},
                  {"system": "gr", "method": "GET", "path": "^/v3/contacts$", "kind": "status", "status": 429,
                   "retry_after": 1}], 0)


def fault_500_read(tmp):
    """5xx on a read: retried with backoff, the run goes through."""
    faulted(tmp, {"system": "gr", "method": "GET", "path": "^/v3/contacts", "kind": "status", "status": 500,
                  "times": 2}, 0)


def fault_500_create(tmp):
    """500 on a batch of creates: not repeated blind (it may have been
    done); the run stops, the next settles it."""
    faulted(tmp, {"system": "sf", "method": "POST", "path": "composite/sobjects", "kind": "status", "status": 500},
            1, r"composite/sobjects.*HTTP 500")


def fault_timeout_create(tmp):
    """An answer slower than the timeout, to a create the system did make:
    the rerun finds the records by e-mail instead of creating them twice."""
    faulted(tmp, {"system": "sf", "method": "POST", "path": "composite/sobjects", "kind": "slow", "seconds": 3},
            1, r"composite/sobjects.*(imeout|timed out)", env={"TANDEM_HTTP_TIMEOUT": "1"})


def fault_malformed(tmp):
    """A truncated answer: an error naming the request, no crash."""
    faulted(tmp, {"system": "gr", "method": "GET", "path": "^/v3/contacts$", "kind": "malformed"},
            1, r"GET /contacts.*not valid JSON")


def fault_partial_batch(tmp):
    """Half the records of a batch refused: each refusal is reported with
    its record, the rest are created; the rerun creates the refused."""
    faulted(tmp, {"system": "sf", "method": "POST", "path": "composite/sobjects", "kind": "partial"},
            1, r"FIELD_CUSTOM_VALIDATION_EXCEPTION")


def fault_400_whole_batch(tmp):
    """A collection of creates refused as a whole (400, no record named):
    split until the records go through, all in the same run, none twice."""
    faulted(tmp, {"system": "sf", "method": "POST", "path": "composite/sobjects", "kind": "status", "status": 400},
            0)


def fault_request_limit(tmp):
    """Salesforce's daily limit: the run stops with its state intact."""
    faulted(tmp, {"system": "sf", "method": "POST", "path": "composite/sobjects", "kind": "limit"},
            1, r"REQUEST_LIMIT_EXCEEDED")


def fault_expired_token(tmp):
    """A session that expires mid-run: tandem logs in again, once."""
    faulted(tmp, {"system": "sf", "method": "POST", "path": "composite/sobjects", "kind": "expire-token"}, 0)


def fault_bad_credentials(tmp):
    """Wrong credentials: a clear error that names the setting, not the value."""
    emu = harness.Emulator(gr_seed(0), tmp)
    try:
        rules = harness.shipped_rules("getresponse-salesforce", tmp)
        rc, out, err = run(emu, rules, os.path.join(tmp, "s.db"), env={"SF_REFRESH_TOKEN": "wrong-0xDEAD"})
        check(rc == 1 and "invalid_grant" in err and "wrong-0xDEAD" not in err + out, "bad SF token: %s" % err)
        rc, out, err = run(emu, rules, os.path.join(tmp, "s.db"), env={"GR_API_KEY": "wrong-0xDEAD"})
        check(rc == 1 and "401" in err and "wrong-0xDEAD" not in err + out, "bad GR key: %s" % err)
        env = emu.env()
        del env["SF_CLIENT_SECRET"]
        e = {k: v for k, v in os.environ.items() if not k.startswith(("SF_", "GR_", "TANDEM_"))}
        e.update(env)
        rc, out, err = harness.tandem(BUILD, ["run", rules, "--now", "--state", os.path.join(tmp, "s.db")], env)
        check(rc == 1 and "SF_CLIENT_SECRET" in err, "a missing secret is named: %s" % err)
        # a secret file works in its place, and one others can read is refused
        sdir = os.path.join(tmp, "secrets")
        os.mkdir(sdir, 0o700)
        path = os.path.join(sdir, "SF_CLIENT_SECRET")
        with open(path, "w") as f:
            f.write(harness.CREDENTIALS["salesforce"]["client_secret"] + "\n")
        os.chmod(path, 0o644)
        env["TANDEM_SECRETS_DIR"] = sdir
        rc, out, err = harness.tandem(BUILD, ["run", rules, "--now", "--state", os.path.join(tmp, "s.db")], env)
        check(rc == 1 and "chmod 600" in err, "a secret file others can read: %s" % err)
        os.chmod(path, 0o600)
        rc, out, err = harness.tandem(BUILD, ["run", rules, "--now", "--state", os.path.join(tmp, "s.db")], env)
        check(rc == 0 and applied(out) > 0, "the secret file: exit %d: %s" % (rc, err))
        no_secrets(out, err)
    finally:
        emu.stop()


def d365_seed(extra):
    """The ActiveCampaign-Dynamics example with `extra` more contacts an
    automation tagged for Dynamics, so a $batch carries several creates."""
    seed = harness.seed_from_examples("activecampaign-dynamics365")
    ac = seed["activecampaign"]
    for i in range(extra):
        cid = str(900 + i)
        ac["contacts"].append({"id": cid, "email": "buyer%d@example.org" % i, "firstName": "Buy", "lastName": "Er%d" % i,
                               "phone": "", "cdate": "2026-10-01T09:00:00-05:00",
                               "udate": "2026-11-02T04:30:00-05:00", "deleted": "0"})
        ac["contactTags"] += [{"id": str(8000 + 2 * i), "contact": cid, "tag": "23"},
                              {"id": str(8001 + 2 * i), "contact": cid, "tag": "22"}]
    return seed


def dynamics_faults(tmp):
    """Dynamics 365: a token that expires mid-run, then half of a $batch
    refused; the reruns create the rest, each lead once."""
    emu = harness.Emulator(d365_seed(4), tmp)
    try:
        rules = harness.shipped_rules("activecampaign-dynamics365", tmp)
        state = os.path.join(tmp, "state.db")
        emu.fault(system="d365", method="POST", path="batch", kind="expire-token")
        emu.fault(system="d365", method="POST", path="batch", kind="partial")
        rc, out, err = run(emu, rules, state)
        check(rc == 1 and "0x80040265" in out + err, "exit %d, no refusal reported: %s" % (rc, err + out[-500:]))
        check(401 in [e["status"] for e in emu.log()], "the token never expired")
        for _ in range(3):
            rc, out, err = run(emu, rules, state)
            if rc == 0 and applied(out) == 0:
                break
        check(rc == 0 and applied(out) == 0, "did not settle: exit %d: %s" % (rc, err))
        st = emu.state()
        leads = st["dynamics365"]["leads"]
        for i in range(4):
            one(leads, "emailaddress1", "buyer%d@example.org" % i)
        verify_ac_dynamics(st, "")
    finally:
        emu.stop()


def dynamics_whole_batch_refused(tmp):
    """Dynamics 365: a $batch refused as a whole (400, no part named) is
    split until its requests go through, in the same run, each lead once."""
    emu = harness.Emulator(d365_seed(4), tmp)
    try:
        rules = harness.shipped_rules("activecampaign-dynamics365", tmp)
        state = os.path.join(tmp, "state.db")
        emu.fault(system="d365", method="POST", path="batch", kind="status", status=400)
        rc, out, err = run(emu, rules, state)
        check(rc == 0, "exit %d: %s" % (rc, err + out[-500:]))
        check(400 in [e["status"] for e in emu.log()], "the batch was never refused")
        rc, out, err = run(emu, rules, state)
        check(rc == 0 and applied(out) == 0, "the rerun: exit %d, applied %d: %s" % (rc, applied(out), err))
        leads = emu.state()["dynamics365"]["leads"]
        for i in range(4):
            one(leads, "emailaddress1", "buyer%d@example.org" % i)
    finally:
        emu.stop()


# ------------------------------------------------------------- injection

def injection(tmp):
    """Values from records go into SOQL as literals: an e-mail carrying a
    quote and a would-be condition matches nothing but itself (and, being
    no address, is skipped, not written).  (Selection criteria never reach
    a query: the VM evaluates them, so a criterion's value is a literal by
    construction.)"""
    seed = gr_seed(0)
    evil = "z' OR Email != 'q@example.org"
    seed["salesforce"]["Lead"] = [{"Id": "00Q000000000777AAA", "Email": "bystander@example.org", "LastName": "By",
                                   "Company": "B", "LeadSource": "Web", "Status": "Open - Not Contacted",
                                   "SystemModstamp": "2026-10-01T00:00:00.000+0000"}]
    emu = harness.Emulator(seed, tmp)
    try:
        rules = harness.shipped_rules("getresponse-salesforce", tmp)
        state = os.path.join(tmp, "state.db")
        # The first run reads Salesforce whole and looks nothing up; the
        # contacts come after, so the next run asks for them by e-mail.
        rc, out, err = run(emu, rules, state)
        check(rc == 0, "exit %d: %s" % (rc, err))
        for i, email in enumerate(["o'hara@example.org", evil]):
            emu.call("POST", "/__touch", {"system": "gr", "object": "contacts", "add": {
                "contactId": "q%d" % i, "email": email, "name": "Quote Person%d" % i,
                "campaign": {"campaignId": "n3wS", "name": "Newsletter"}, "tags": [], "customFieldValues": []}})
        rc, out, err = run(emu, rules, state)
        check(rc == 0, "exit %d: %s" % (rc, err))
        leads = emu.state()["salesforce"]["Lead"]
        one(leads, "Email", "o'hara@example.org")
        check(not by(leads, "Email", evil) and "is not an e-mail address" in out, "the would-be condition: %s" % out)
        by_ = one(leads, "Email", "bystander@example.org")
        check(by_["LastName"] == "By" and "GRdeleted__c" not in by_, "the bystander lead was touched")
        queries = [e["query"] for e in emu.log() if e["path"].endswith("/query")]
        check(any("%5C%27" in q for q in queries), "no escaped quote in the queries")
        rc, out, err = run(emu, rules, state)
        check(rc == 0 and applied(out) == 0, "rerun applied %d" % applied(out))
    finally:
        emu.stop()


def injection_odata(tmp):
    """The same for OData: an e-mail that tries to close the literal and
    add an `or` finds no lead (and, being no address, makes none)."""
    seed = d365_seed(0)
    evil = "x' or emailaddress1 ne 'y@example.org"
    emu = harness.Emulator(seed, tmp)
    try:
        rules = harness.shipped_rules("activecampaign-dynamics365", tmp)
        state = os.path.join(tmp, "state.db")
        # as above: Dynamics is read whole first; the contact comes after
        rc, out, err = run(emu, rules, state)
        check(rc == 0, "exit %d: %s" % (rc, err))
        before = {l["leadid"]: l for l in emu.state()["dynamics365"]["leads"]}
        emu.call("POST", "/__touch", {"system": "ac", "object": "contacts", "add": {
            "id": "990", "email": evil, "firstName": "Evil", "lastName": "Quote", "phone": "", "deleted": "0"}})
        for tid, tag in (("9900", "23"), ("9901", "22")):
            emu.call("POST", "/__touch", {"system": "ac", "object": "contactTags",
                                          "add": {"id": tid, "contact": "990", "tag": tag}})
        rc, out, err = run(emu, rules, state)
        check(rc == 0, "exit %d: %s" % (rc, err))
        leads = emu.state()["dynamics365"]["leads"]
        check(not by(leads, "emailaddress1", evil) and "is not an e-mail address" in out,
              "the would-be condition: %s" % out[-400:])
        for l in leads:
            if l["leadid"] in before and l.get("emailaddress1") != "bea@fabrikam.example":
                check(l == before[l["leadid"]], "lead %s was written" % l["leadid"])
        queries = [e["query"] for e in emu.log() if e["system"] == "d365" and "emailaddress1%20eq" in e["query"]]
        check(any("%27%27" in q for q in queries), "no doubled quote in the filters")
    finally:
        emu.stop()


# ---------------------------------------------------------- request count

COUNT_RULES = """use salesforce, activecampaign

source sf = salesforce {
    instance = env("SF_INSTANCE_URL")
    auth = oauth2(client_id = env("SF_CLIENT_ID"), client_secret = secret("SF_CLIENT_SECRET"), refresh_token = secret("SF_REFRESH_TOKEN"))
}

source ac = activecampaign {
    url = env("AC_API_URL")
    api_key = secret("AC_API_KEY")
}

initial sync on

sync people: sf.Lead <- ac.contact {
    match Email = email
    skip unless Email is not blank
    new in sf become Lead with Company = "[not provided]", LeadSource = "ActiveCampaign"
    use defaults
}
"""


def request_count(tmp):
    """1,000 contacts become 1,000 leads in 5 writes of 200."""
    n = 1000
    seed = {"activecampaign": {"contacts": [
        {"id": str(i + 1), "email": "person%04d@example.net" % i, "firstName": "Per", "lastName": "Son%d" % i,
         "phone": "", "orgname": "", "cdate": "2026-11-01T09:00:00-00:00", "udate": "2026-11-01T09:00:00-00:00",
         "deleted": "0"} for i in range(n)]}}
    emu = harness.Emulator(seed, tmp)
    try:
        rules = harness.write_rules(tmp, "count", COUNT_RULES)
        state = os.path.join(tmp, "state.db")
        rc, out, err = run(emu, rules, state)
        check(rc == 0 and applied(out) == n, "exit %d, applied %d: %s" % (rc, applied(out), err))
        log = [e for e in emu.log() if e["system"] == "sf"]
        writes = [e for e in log if e["method"] in ("POST", "PATCH", "DELETE") and "oauth2" not in e["path"]]
        check(len(writes) == 5 and all(e["path"].endswith("/composite/sobjects") for e in writes),
              "%d Salesforce writes for %d leads, not 5" % (len(writes), n))
        # one token, one read of changes, and no lookups by e-mail: a first
        # read has every lead there is (ChangeCursor.whole)
        check(len(log) == 5 + 1 + 1, "%d Salesforce requests in all, not 7" % len(log))
        check(len(emu.state()["salesforce"]["Lead"]) == n, "leads lost or duplicated")
        # ActiveCampaign's 5 requests a second are kept on tandem's side
        check(not [e for e in emu.log() if e["system"] == "ac" and e["status"] == 429], "ActiveCampaign answered 429")
        print("  %d Salesforce requests, %d ActiveCampaign requests for %d records" %
              (len(log), len([e for e in emu.log() if e["system"] == "ac"]), n))
    finally:
        emu.stop()


def gr_import_count(tmp):
    """200 Salesforce contacts become GetResponse contacts in one import
    (POST /contacts/batch), each there once, and a rerun pairs them."""
    n = 200
    seed = gr_seed(0)
    seed["salesforce"]["Contact"] += [
        {"Id": "003%012dAAA" % i, "FirstName": "Im", "LastName": "Port%d" % i, "Email": "import%d@example.org" % i,
         "SystemModstamp": "2026-10-01T00:00:00.000+0000"} for i in range(n)]
    emu = harness.Emulator(seed, tmp)
    try:
        rules = harness.shipped_rules("getresponse-salesforce", tmp)
        state = os.path.join(tmp, "state.db")
        rc, out, err = run(emu, rules, state)
        check(rc == 0, "exit %d: %s" % (rc, err))
        posts = [e["path"] for e in emu.log() if e["system"] == "gr" and e["method"] == "POST"]
        check(posts.count("/gr/v3/contacts/batch") == 1, "imports: %s" % sorted(set(posts)))
        gr = emu.state()["getresponse"]["contacts"]
        for i in range(n):
            one(gr, "email", "import%d@example.org" % i)
        rc, out, err = run(emu, rules, state)
        check(rc == 0 and applied(out) == 0, "rerun applied %d: %s" % (applied(out), out[-500:]))
        check(len(emu.state()["getresponse"]["contacts"]) == len(gr), "contacts duplicated")
    finally:
        emu.stop()


def gr_import_refused_whole(tmp):
    """An import refused as a whole (400, naming no contact, as GetResponse
    answers one bad contact) is split until its contacts arrive, in the
    same run, each once; an address no system takes is skipped before
    anything is sent, with its reason, in the plan and in status."""
    n = 40
    seed = gr_seed(0)
    seed["salesforce"]["Contact"] += [
        {"Id": "003%012dAAA" % i, "FirstName": "Im", "LastName": "Port%d" % i,
         "Email": "bad@localhost" if i == 17 else "import%d@example.org" % i,
         "SystemModstamp": "2026-10-01T00:00:00.000+0000"} for i in range(n)]
    emu = harness.Emulator(seed, tmp)
    try:
        rules = harness.shipped_rules("getresponse-salesforce", tmp)
        state = os.path.join(tmp, "state.db")
        emu.fault(system="gr", method="POST", path="contacts/batch", kind="status", status=400)
        rc, out, err = run(emu, rules, state)
        check(rc == 0, "exit %d: %s" % (rc, err + out[-400:]))
        check(re.search(r"skip sf.Contact 003000000000017AAA .*bad@localhost.* is not an e-mail address", out),
              "the bad address is not skipped with its reason: %s" % out[-600:])
        gr = emu.state()["getresponse"]["contacts"]
        for i in range(n):
            if i != 17:
                one(gr, "email", "import%d@example.org" % i)
        check(not by(gr, "email", "bad@localhost"), "the bad address was made")
        posts = [e for e in emu.log() if e["system"] == "gr" and e["method"] == "POST"]
        check(400 in [e["status"] for e in posts], "the import was never refused")
        check(len(posts) <= 2 * 6 + 4, "%d requests to import %d contacts" % (len(posts), n))
        rc, out, err = run(emu, rules, state)
        check(len(emu.state()["getresponse"]["contacts"]) == len(gr), "contacts duplicated")
        check(rc == 0 and applied(out) == 0, "the rerun: %s" % out[-400:])
    finally:
        emu.stop()


ECHO_RULES = COUNT_RULES.replace("sync people: sf.Lead <- ac.contact {", "sync people: sf.Lead -> ac.contact {").replace(
    '    new in sf become Lead with Company = "[not provided]", LeadSource = "ActiveCampaign"\n', "")


def echo_count(tmp):
    """50 leads become ActiveCampaign contacts; the next run reads them back
    as changes (dated at the write), and since each answer to a write gave
    the contact's udate, it passes them over: no Salesforce lookup of their
    leads, nothing to do (docs/state.md)."""
    n = 50
    seed = {"salesforce": {"Lead": [
        {"Id": "00Q%012dAAA" % i, "FirstName": "Ec", "LastName": "Ho%d" % i, "Company": "Acme",
         "Email": "echo%02d@example.org" % i, "SystemModstamp": "2026-10-01T00:00:00.000+0000"} for i in range(n)]}}
    emu = harness.Emulator(seed, tmp)
    try:
        rules = harness.write_rules(tmp, "echo", ECHO_RULES)
        state = os.path.join(tmp, "state.db")
        rc, out, err = run(emu, rules, state)
        check(rc == 0 and applied(out) == n, "first run: exit %d, applied %d: %s" % (rc, applied(out), err))
        before = len([e for e in emu.log() if e["system"] == "sf"])
        rc, out, err = run(emu, rules, state)
        check(rc == 0 and applied(out) == 0 and "(read 0 and %d)" % n in out,
              "second run: exit %d, applied %d: %s%s" % (rc, applied(out), out[-400:], err))
        sf = [e for e in emu.log() if e["system"] == "sf"][before:]
        # a token, the changes (queryAll): no query for the leads by id
        lookups = [e for e in sf if e["path"].endswith("/query")]
        check(not lookups and len(sf) == 2, "the second run made %d Salesforce requests, %d of them lookups"
              % (len(sf), len(lookups)))
    finally:
        emu.stop()


REJECT_RULES = ECHO_RULES.replace("    skip unless Email is not blank\n",
                                  "    skip unless Email is not blank\n    from sf select when Country == \"Germany\"\n")


def rejected_lookups(tmp):
    """20 leads the selection rejects are edited, each with an ActiveCampaign
    contact of its e-mail: the next run decides them without looking a
    partner up (a rejected lead has nothing to pair), so it asks
    ActiveCampaign nothing; the one selected lead edited with them is
    looked up and synced."""
    n = 20
    leads = [{"Id": "00Q%012dAAA" % i, "FirstName": "Re", "LastName": "Ject%d" % i, "Company": "Acme",
              "Email": "reject%02d@example.org" % i, "Country": "France",
              "SystemModstamp": "2026-10-01T00:00:00.000+0000"} for i in range(n)]
    leads.append({"Id": "00Q%012dAAA" % n, "FirstName": "Kept", "LastName": "Lead", "Company": "Acme",
                  "Email": "kept@example.org", "Country": "Germany", "SystemModstamp": "2026-10-01T00:00:00.000+0000"})
    contacts = [{"id": str(i + 1), "email": l["Email"], "firstName": "Old", "lastName": "Name", "phone": "",
                 "orgname": "", "cdate": "2026-09-01T00:00:00-00:00", "udate": "2026-09-01T00:00:00-00:00",
                 "deleted": "0"} for i, l in enumerate(leads)]
    # the newest, so the one the next read of changes takes again (its second)
    contacts.append({"id": str(n + 2), "email": "other@example.org", "firstName": "Ot", "lastName": "Her", "phone": "",
                     "orgname": "", "cdate": "2026-10-01T00:00:00-00:00", "udate": "2026-10-01T00:00:00-00:00",
                     "deleted": "0"})
    emu = harness.Emulator({"salesforce": {"Lead": leads}, "activecampaign": {"contacts": contacts}}, tmp)
    try:
        rules = harness.write_rules(tmp, "reject", REJECT_RULES)
        state = os.path.join(tmp, "state.db")
        rc, out, err = run(emu, rules, state)
        check(rc == 0 and applied(out) == 1, "first run: exit %d, applied %d: %s%s" % (rc, applied(out), out[-400:], err))
        for l in leads:
            emu.touch("sf", "Lead", l["Id"], {"LastName": l["LastName"] + "x"})
        emu.clear_log()
        rc, out, err = run(emu, rules, state)
        check(rc == 0 and applied(out) == 1 and "(read %d and " % (n + 1) in out,
              "second run: exit %d, applied %d: %s%s" % (rc, applied(out), out[-400:], err))
        # the read of changes, and no search by e-mail (the build before
        # made one a rejected lead: 21 reads of /contacts)
        reads = [e for e in emu.log() if e["system"] == "ac" and e["method"] == "GET" and e["path"].endswith("/contacts")]
        check(len(reads) == 1, "the second run read /contacts %d times, not once" % len(reads))
        kept = one(emu.state()["activecampaign"]["contacts"], "email", "kept@example.org")
        check(kept["lastName"] == "Leadx", "the selected lead's edit did not reach its contact: %s" % kept)
    finally:
        emu.stop()


def overlapping_runs(tmp):
    """Two runs of one state at once (a cron job overlapping the last, a
    person running by hand): while the first waits on its creates, the
    second exits 75 at once having sent nothing; one with --wait runs when
    the first is done and finds nothing left to do."""
    emu = harness.Emulator(gr_seed(EXTRA), tmp)
    try:
        rules = harness.shipped_rules("getresponse-salesforce", tmp)
        state = os.path.join(tmp, "state.db")
        emu.fault(system="sf", method="POST", path="composite/sobjects", kind="slow", seconds=4)
        first = harness.tandem_start(BUILD, ["run", rules, "--now", "--state", state], emu.env())
        try:
            deadline = time.time() + 30
            while not any(e["method"] == "POST" for e in emu.log()) and time.time() < deadline:
                time.sleep(0.1)
            # the slow answer is logged when it is served: the first run is
            # now past its reads, waiting on the write
            time.sleep(0.5)
            # (the first run sends nothing more until the slow answer is
            # served, and the emulator logs a request as it answers it)
            before = len(emu.log())
            rc, out, err = run(emu, rules, state)
            check(len(emu.log()) == before and first.poll() is None, "the second run sent requests")
            check(rc == 75, "the second run: exit %d, not 75: %s" % (rc, err or out[-300:]))
            check("in use by another run (pid %d" % first.pid in err, "the second run does not name the first: %s" % err)
            check(out == "", "the second run printed a plan: %s" % out[:300])
            waiter = harness.tandem_start(BUILD, ["run", rules, "--now", "--state", state, "--wait"], emu.env())
            out1, err1 = first.communicate(timeout=120)
            check(first.returncode == 0, "the first run: exit %d: %s" % (first.returncode, err1))
            out2, err2 = waiter.communicate(timeout=120)
            check(waiter.returncode == 0 and applied(out2) == 0,
                  "the run that waited: exit %d, applied %d: %s" % (waiter.returncode, applied(out2), err2))
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
        settled(emu, rules, state, tmp)
    finally:
        emu.stop()


TESTS = [ac_salesforce, gr_salesforce, ac_dynamics, fault_429_retry_after, fault_500_read, fault_500_create,
         fault_timeout_create, fault_malformed, fault_partial_batch, fault_400_whole_batch, fault_request_limit, fault_expired_token,
         fault_bad_credentials, dynamics_faults, dynamics_whole_batch_refused, injection, injection_odata, request_count, gr_import_count,
         echo_count, rejected_lookups, overlapping_runs, gr_import_refused_whole]


def main():
    t = harness.Tests()
    names = sys.argv[2:]
    for fn in TESTS:
        if not names or fn.__name__ in names:
            t.run(fn)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
