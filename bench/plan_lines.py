#!/usr/bin/env python3
"""plan_lines.py - turns `tandem plan --json` (docs/plan.md) into the
benchmark's canonical lines, so tandem's plan can be compared with what the
baselines in bench/baselines/ print.

usage: plan_lines.py [PLAN.json]      (stdin without an argument)

One line per create: a JSON object with sorted keys, "id" the record it
comes from (from.id, the lead's Id) and each written field's "after" value
under the field's name; null values are left out, as the baselines leave
them out.  Changes other than creates are counted on stderr: the
benchmark's plan (case 1, an empty ActiveCampaign side) should have none,
and the exit status is 1 when it has.
"""
import json
import sys


def canonical(d):
    return json.dumps(d, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def plan_lines(plan):
    """(lines, problems): the canonical create lines, in plan order, and a
    list of what did not fit the all-creates picture."""
    lines, problems = [], []
    for sync in plan.get("syncs", []):
        for ch in sync.get("changes", []):
            if ch.get("action") != "create":
                problems.append("%s %s %s" % (ch.get("action"), ch.get("object"), ch.get("id")))
                continue
            rec = {"id": (ch.get("from") or {}).get("id")}
            for f in ch.get("fields", []):
                if f["field"] in rec:
                    problems.append("create from %s writes %r twice" % (rec["id"], f["field"]))
                if f.get("after") is not None:
                    rec[f["field"]] = f["after"]
            lines.append(canonical(rec))
    return lines, problems


def main():
    src = open(sys.argv[1], encoding="utf-8") if len(sys.argv) > 1 else sys.stdin
    lines, problems = plan_lines(json.load(src))
    sys.stdout.write("".join(l + "\n" for l in lines))
    for p in problems[:20]:
        print("plan_lines: not a create: " + p, file=sys.stderr)
    if problems:
        print("plan_lines: %d changes other than creates" % len(problems), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
