#!/usr/bin/env python3
"""select.py - bench/leads.sync's selection and ten maps as a Python 3
script with the standard json module: what a scripter would write instead
of tandem (issue 6, case 2).

usage: select.py FILE...    query pages (DIR/sf/Lead/*.json) or .jsonl files
                            (one lead a line)

Prints one line per lead that would be created, in the benchmark's canonical
form (bench/README.md): JSON, sorted keys, "id" plus the mapped
ActiveCampaign fields under the names tandem writes, nulls left out.
"""
import json
import sys

SOURCES = {"Web", "Partner Referral", "Purchased List", "Trade Show"}
COUNTRIES = {"Germany", "France", "Italy", "Spain", "Portugal", "Austria", "Netherlands"}
# lead field -> ActiveCampaign field, in the rule file's order
MAPS = [("FirstName", "firstName"), ("LastName", "lastName"), ("Email", "email"), ("Phone", "phone"),
        ("Company", "orgname"), ("Industry", "Industry"), ("City", "City"), ("Country", "Country"),
        ("LeadSource", "Lead Source")]


def selected(r):
    """The skip rule and the four criteria; text compares case-sensitively,
    a blank (null or "") is != any value and in no list."""
    email = r.get("Email")
    return (email is not None and email != ""
            and r.get("Status") != "Closed - Not Converted"
            and r.get("LeadSource") in SOURCES
            and r.get("Country") in COUNTRIES
            and not email.endswith("@example.invalid"))


def mapped(r):
    """The create tandem would send, as the canonical dict."""
    out = {"id": r["Id"]}
    for src, dst in MAPS:
        if r.get(src) is not None:
            out[dst] = r[src]
    if r.get("AnnualRevenue") is not None:
        out["Annual Revenue"] = "%.2f" % r["AnnualRevenue"]  # as text(decimals = 2)
    return out


def line(d):
    return json.dumps(d, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def records(path):
    with open(path, encoding="utf-8") as f:
        if path.endswith(".jsonl"):
            for ln in f:
                yield json.loads(ln)
        else:
            yield from json.load(f)["records"]


def main():
    out = sys.stdout
    for path in sys.argv[1:]:
        for r in records(path):
            if selected(r):
                out.write(line(mapped(r)) + "\n")


if __name__ == "__main__":
    main()
