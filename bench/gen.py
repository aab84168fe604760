#!/usr/bin/env python3
"""gen.py - the benchmark's data, the same for a given N on any machine
(a fixed seed): Salesforce leads as recorded query pages and the matching
ActiveCampaign contacts as recorded list pages, in the replay layout
(docs/replay.md), plus the same leads one JSON record a line.

usage: bench/gen.py N OUT_DIR [--contacts] [--changed PCT [--delta]]

  OUT_DIR/sf/Lead/000001.json ...   2,000 leads a page, as GET /query answers
  OUT_DIR/leads.jsonl               the same leads, one record a line
  OUT_DIR/ac/contact.json           no contacts (the "all creates" plan)
  with --contacts:
  OUT_DIR/ac/contact/000001.json    100 contacts a page, as GET /contacts answers
                                    with their fieldValues; most share a lead's
                                    e-mail (in other case and spacing)
  OUT_DIR/ac/fields.json            the custom fields the maps write
  --changed PCT                     the state after PCT% of both sides changed
                                    an hour after the first sync (incremental run)
  --delta                           with --changed: only what the APIs answer an
                                    incremental run (as `--record` of a live run
                                    saves it): the changed records of each side
                                    and their partners by e-mail, not the whole
                                    snapshot:
                                    PCT% of the leads get a new phone, PCT% of the
                                    contacts a new change time, both at 09:00 (the
                                    rest is dated 00:00-08:00); the same ids and,
                                    apart from those edits, the same values

Values are realistic: about 10% of leads have no e-mail, names carry
accents, 8 lead sources, 13 countries, revenue as a number or null.
"""
import json
import os
import random
import sys

SEED = 20261123
SOURCES = ["Web", "Partner Referral", "Purchased List", "Trade Show", "Phone Inquiry", "Employee Referral",
           "External Referral", "Other"]
COUNTRIES = ["Germany", "France", "Italy", "Spain", "Portugal", "Austria", "Netherlands", "Belgium", "Poland",
             "Sweden", "United Kingdom", "United States", "Canada"]
CITIES = {"Germany": ["Berlin", "München", "Köln"], "France": ["Paris", "Lyon", "Besançon"],
          "Italy": ["Milano", "Torino", "Forlì"], "Spain": ["Madrid", "A Coruña", "Málaga"],
          "Portugal": ["Lisboa", "Porto", "Évora"], "Austria": ["Wien", "Graz", "Linz"],
          "Netherlands": ["Amsterdam", "Utrecht", "Den Haag"], "Belgium": ["Bruxelles", "Liège", "Gent"],
          "Poland": ["Warszawa", "Kraków", "Łódź"], "Sweden": ["Stockholm", "Göteborg", "Malmö"],
          "United Kingdom": ["London", "Leeds", "Bristol"], "United States": ["Austin", "Boston", "Denver"],
          "Canada": ["Montréal", "Toronto", "Québec"]}
FIRST = ["Anna", "José", "Zoë", "François", "Jürgen", "Łucja", "Søren", "Inés", "Chloé", "Mateo", "Björn",
         "Noémie", "Ana", "Luís", "Mia", "Ólafur", "Giulia", "Hélène", "Tomás", "Renée"]
LAST = ["Müller", "García", "Rossi", "Dubois", "Kowalski", "Jönsson", "Silva", "Nováková", "O'Brien", "Šimić",
        "Fernández", "Lefèvre", "Bianchi", "Schäfer", "Núñez", "Andersson", "Costa", "Moreau", "Weiß", "Ødegaard"]
INDUSTRIES = ["Agriculture", "Banking", "Biotechnology", "Chemicals", "Communications", "Construction",
              "Consulting", "Education", "Electronics", "Energy", "Engineering", "Retail", None]
STATUSES = ["Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"]
BASE_TIME = "2026-11-01T%02d:%02d:%02d.000+0000"
PAGE = 2000
AC_PAGE = 100
AC_FIELDS = [("1", "Industry"), ("2", "City"), ("3", "Country"), ("4", "Lead Source"), ("5", "Annual Revenue")]


def lead_id(i):
    return "00Q%012dAAA" % (i + 1)


def stamp(i, hour=0):
    s = i % 86400 if hour == 0 else (i * 7) % 3600
    return BASE_TIME % (hour or s // 3600 % 8, s // 60 % 60, s % 60)


def make_lead(rnd, i):
    first, last = rnd.choice(FIRST), rnd.choice(LAST)
    country = rnd.choice(COUNTRIES)
    email = None
    if rnd.random() >= 0.10:
        dom = "example.invalid" if rnd.random() < 0.02 else rnd.choice(["acme.example", "globex.example",
                                                                        "initech.example", "umbrella.example"])
        email = "%s.%s%d@%s" % (first.lower(), last.lower().replace("'", ""), i, dom)
    return {
        "attributes": {"type": "Lead", "url": "/services/data/v60.0/sobjects/Lead/" + lead_id(i)},
        "Id": lead_id(i), "IsDeleted": False, "FirstName": first, "LastName": last,
        "Company": "%s %s" % (rnd.choice(["Müller", "Acme", "Globex", "Initech", "Umbrella"]),
                              rnd.choice(["GmbH", "SA", "S.p.A.", "Ltd", "Inc."])),
        "Email": email, "Phone": "+%d %d %07d" % (rnd.randint(1, 49), rnd.randint(10, 99), rnd.randint(0, 9999999)),
        "Status": rnd.choice(STATUSES), "LeadSource": rnd.choice(SOURCES), "Country": country,
        "City": rnd.choice(CITIES[country]), "Industry": rnd.choice(INDUSTRIES),
        "AnnualRevenue": None if rnd.random() < 0.2 else round(rnd.uniform(1e4, 5e7), 2),
        "IsConverted": False, "CreatedDate": stamp(i), "SystemModstamp": stamp(i),
    }


def write(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    n, out = int(args[0]), args[1]
    contacts = "--contacts" in args
    changed = float(args[args.index("--changed") + 1]) if "--changed" in args else 0.0
    delta = changed and "--delta" in args
    rnd = random.Random(SEED)
    leads = [make_lead(rnd, i) for i in range(n)]
    # the incremental run: PCT% of the leads edited an hour later
    crnd = random.Random(SEED + 1)
    # ActiveCampaign holds what the leads were before the edit (an edit in
    # Salesforce does not reach it by itself): its contacts are built from
    # this copy, so both data sets share every contact id and value.
    before = [dict(l) for l in leads]
    edited = set()
    if changed:
        for i in crnd.sample(range(n), int(n * changed / 100)):
            leads[i]["Phone"] = "+1 555 %07d" % i
            leads[i]["SystemModstamp"] = stamp(i, hour=9)
            edited.add(i)
    # the contacts are drawn first (same draws as ever) so a delta knows
    # which leads the changed contacts pair with
    arnd = random.Random(SEED + 2)
    rows = []
    for i, l in enumerate(before):
        if l["Email"] and arnd.random() < 0.9:
            rows.append((l["Email"].upper() if arnd.random() < 0.3 else " " + l["Email"], l, i))
    for i in range(n // 10):
        rows.append(("newsletter%d@subscriber.example" % i, None, -1))
    ac_changed = set(crnd.sample(range(len(rows)), int(len(rows) * changed / 100))) if changed else set()
    keep_leads, keep_contacts = None, None
    if delta:
        keep_leads = edited | {rows[k][2] for k in ac_changed if rows[k][2] >= 0}
        keep_contacts = ac_changed | {k for k, r in enumerate(rows) if r[2] in edited}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "leads.jsonl"), "w", encoding="utf-8") as lines:
        for l in leads:
            lines.write(json.dumps(l, ensure_ascii=False, separators=(",", ":")) + "\n")
    served = leads if keep_leads is None else [leads[i] for i in sorted(keep_leads)]
    pages = max(1, (len(served) + PAGE - 1) // PAGE)
    for p in range(pages):
        recs = served[p * PAGE:(p + 1) * PAGE]
        page = {"totalSize": len(served), "done": p == pages - 1, "records": recs}
        if p < pages - 1:
            page["nextRecordsUrl"] = "/services/data/v60.0/query/01gBENCH-%d" % ((p + 1) * PAGE)
        write(os.path.join(out, "sf", "Lead", "%06d.json" % (p + 1)), page)
    if not contacts:
        write(os.path.join(out, "ac", "contact.json"), {"contacts": [], "meta": {"total": "0"}})
        return
    write(os.path.join(out, "ac", "fields.json"),
          {"fields": [{"id": fid, "title": t, "type": "text"} for fid, t in AC_FIELDS]})
    # contacts: 90% of the leads with an e-mail have one (same address, other
    # case and spacing), plus 10% of n that no lead has (drawn above)
    order = list(range(len(rows))) if keep_contacts is None else sorted(keep_contacts)
    cpages = max(1, (len(order) + AC_PAGE - 1) // AC_PAGE)
    for p in range(cpages):
        contacts_, values = [], []
        for k in order[p * AC_PAGE:(p + 1) * AC_PAGE]:
            email, l, _ = rows[k]
            cid = str(k + 1)
            udate = "2026-11-01T%02d:%02d:%02d-00:00" % (k // 3600 % 8, k // 60 % 60, k % 60)
            if k in ac_changed:
                udate = "2026-11-01T09:%02d:%02d-00:00" % (k // 60 % 60, k % 60)
            contacts_.append({"id": cid, "email": email, "firstName": l["FirstName"] if l else "Reader",
                              "lastName": l["LastName"] if l else str(k), "phone": l["Phone"] if l else "",
                              "orgname": l["Company"] if l else "", "cdate": udate, "udate": udate, "deleted": "0"})
            if l:
                for fid, t in AC_FIELDS:
                    v = {"Industry": l["Industry"], "City": l["City"], "Country": l["Country"],
                         "Lead Source": l["LeadSource"],
                         "Annual Revenue": None if l["AnnualRevenue"] is None else "%.2f" % l["AnnualRevenue"]}[t]
                    if v is not None:
                        values.append({"id": "%d%s" % (k + 1, fid), "contact": cid, "field": fid, "value": v})
        write(os.path.join(out, "ac", "contact", "%06d.json" % (p + 1)),
              {"contacts": contacts_, "fieldValues": values, "meta": {"total": str(len(rows))}})


if __name__ == "__main__":
    main()
