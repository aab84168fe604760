#!/usr/bin/env python3
"""equivalence.py - the dry run equals the run: every rule test case
(tests/engine, tests/behaviours) whose first run can run live is run
against the API emulator, seeded with that run's recorded answers: a
live `tandem plan --json`, then `tandem run`, and the emulator's records,
tags and lists must then be what the plan said: each record created with
its key and fields, each update's fields, each tag, each delete.

Fields are compared where the emulator keeps them under the field's own
name (custom fields, which each vendor keeps apart, are counted as not
compared); the closing line says how many changes and fields were
checked.

`make soak` runs every case (about 7 minutes: ActiveCampaign answers 5
requests a second); `make test` the cases of the files named with
--files (the GetResponse ones, under a minute).

usage: tests/live/equivalence.py BUILD_DIR [--files F,F...] [CASE_NAME_SUBSTRING...]
"""
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
ROOT = harness.ROOT
FILES = ["tests/engine", "tests/behaviours"]

# Where the emulator keeps each system's object, and its id and key fields.
COLLECTION = {
    "salesforce": lambda o: o,
    "activecampaign": lambda o: o + "s",
    "dynamics365": lambda o: o + "s",
    "getresponse": lambda o: o + "s" if o == "contact" else o,
}
ID = {"salesforce": lambda o: "Id", "activecampaign": lambda o: "id", "dynamics365": lambda o: o + "id",
      "getresponse": lambda o: "contactId"}


def cases(only=None):
    """(file, name, rules text or path, first run's flags, its answer files)"""
    for d in FILES:
        for fn in sorted(os.listdir(os.path.join(ROOT, d))):
            if not fn.endswith(".test") or (only and fn not in only):
                continue
            path = os.path.join(ROOT, d, fn)
            text = open(path).read()
            for block in re.split(r"^### ", text, flags=re.M)[1:]:
                name = block.split("\n", 1)[0].strip()
                rules = None
                m = re.search(r"^rules (.+)$", block, re.M)
                if m:
                    rules = ("path", os.path.normpath(os.path.join(os.path.dirname(path), m.group(1).strip())))
                secs = re.split(r"^--- ", block, flags=re.M)
                answers, flags, runs = {}, None, 0
                for s in secs[1:]:
                    head, _, body = s.partition("\n")
                    head = head.strip()
                    if head == "rules":
                        rules = ("text", body)
                    elif head.startswith("run ") or head.startswith("dry-run "):
                        runs += 1
                        if runs > 1:
                            break
                        flags = head.split()[2:] if head.startswith("run ") else ["dry"]
                    elif runs == 1 and "/" in head and head.endswith(".json"):
                        answers[head] = body
                if rules and flags is not None:
                    yield fn, name, rules, flags, answers


def seed_of(answers):
    seed = {}
    for f, body in answers.items():
        src, fn = f.split("/", 1)
        if not harness.seed_add(seed, src, fn, json.loads(body, strict=False)):
            return None
    return seed


def live_rules(rules, tmp, emu):
    """The case's rule file with every source pointed at the emulator:
    the inline cases name their settings env("I"), secret("K") and so on."""
    text = open(rules[1]).read() if rules[0] == "path" else rules[1]
    text = text.replace('auth = oauth2(client_id = env("C"), refresh_token = secret("R"))',
                        'auth = oauth2(client_id = env("C"), client_secret = secret("CS"), refresh_token = secret("R"))')
    text = text.replace('api_key = secret("GR_API_KEY")', 'api_key = secret("GR_API_KEY")\n    url = env("GR_API_URL")')
    text = text.replace('client_secret = secret("D365_CLIENT_SECRET"))',
                        'client_secret = secret("D365_CLIENT_SECRET"), login_url = env("D365_LOGIN_URL"))')
    # inline cases: sources by short settings
    text = re.sub(r'source (\w+) = getresponse \{ api_key = secret\("K"\) \}',
                  r'source \1 = getresponse { api_key = secret("GK"); url = env("GU") }', text)
    path = os.path.join(tmp, "rules.sync")
    with open(path, "w") as f:
        f.write(text)
    return path


def env_of(emu):
    e = emu.env()
    c = harness.CREDENTIALS
    e.update({"I": emu.base + "/sf", "C": c["salesforce"]["client_id"], "R": c["salesforce"]["refresh_token"],
              "CS": c["salesforce"]["client_secret"],
              "U": emu.base + "/ac", "K": c["activecampaign"]["api_key"], "GK": c["getresponse"]["api_key"],
              "GU": emu.base + "/gr/v3"})
    return e


def same(want, got):
    if want is None:
        return got in (None, "", [])
    if isinstance(want, bool) or isinstance(got, bool):
        return str(want).lower() == str(got).lower()
    if isinstance(want, (int, float)) and not isinstance(got, bool):
        try:
            return abs(float(got) - float(want)) < 1e-9
        except (TypeError, ValueError):
            return False
    if isinstance(got, str) and isinstance(want, str):
        w, g = want.strip(), got.strip()
        if re.match(r"\d{4}-\d\d-\d\dT", w) and re.match(r"\d{4}-\d\d-\d\dT", g):
            return w[:19] == g[:19]
        return w == g
    return want == got


def email_of(row):
    for k, v in row.items():
        if "email" in k.lower() and isinstance(v, str) and "@" in v:
            return v.strip().lower()
    return None


class Tally:
    changes = 0
    fields = 0
    skipped_fields = 0


def verify(plan, st, tally):
    for s in plan["syncs"]:
        for ch in s["changes"]:
            system, obj = ch["system"], ch["object"]
            rows = st.get(system, {}).get(COLLECTION[system](obj), [])
            idf = ID[system](obj)
            if ch["action"] == "create":
                hits = [r for r in rows if ch.get("key") and email_of(r) == ch["key"].strip().lower()]
                check(len(hits) == 1, "%s: %d %s.%s with key %s, not 1" % (s["sync"], len(hits), system, obj, ch["key"]))
                row = hits[0]
            elif ch["action"] == "delete":
                gone = [r for r in rows if str(r.get(idf)) == str(ch["id"]) and not r.get("deleted") in ("1", True)]
                check(not gone, "%s: %s.%s %s was not deleted" % (s["sync"], system, obj, ch["id"]))
                tally.changes += 1
                continue
            else:
                hits = [r for r in rows if str(r.get(idf)) == str(ch["id"])]
                check(len(hits) == 1, "%s: %s.%s %s is not there" % (s["sync"], system, obj, ch["id"]))
                row = hits[0]
            for f in ch.get("fields", []):
                if f["field"] in row:
                    check(same(f["after"], row[f["field"]]), "%s: %s %s.%s %s: %s is %r, the plan said %r" %
                          (s["sync"], ch["action"], system, obj, ch.get("id") or ch.get("key"), f["field"],
                           row[f["field"]], f["after"]))
                    tally.fields += 1
                else:
                    tally.skipped_fields += 1
            acts = ch.get("actions", []) if ch["action"] == "create" else \
                [{"action": ch["action"], "name": ch.get("name")}] if ch["action"] in ("tag", "untag") else []
            for a in acts:
                if a["action"] not in ("tag", "untag"):
                    continue
                tags = tags_of(st, system, row)
                if tags is None:
                    continue
                want = a["action"] == "tag"
                check((a["name"] in tags) == want, "%s: %s.%s %s: tag %r %s" % (
                    s["sync"], system, obj, row.get(idf), a["name"], "missing" if want else "still there"))
            tally.changes += 1


def tags_of(st, system, row):
    if system == "activecampaign":
        names = {t["id"]: t["tag"] for t in st["activecampaign"].get("tags", [])}
        return [names.get(ct["tag"]) for ct in st["activecampaign"].get("contactTags", [])
                if str(ct["contact"]) == str(row.get("id"))]
    if system == "getresponse":
        names = {t.get("tagId"): t.get("name") for t in st["getresponse"].get("tags", []) if isinstance(t, dict)}
        return [t.get("name") or names.get(t.get("tagId")) for t in row.get("tags", []) if isinstance(t, dict)]
    return None


def one_case(tmp, rules, answers, flags, tally):
    seed = seed_of(answers)
    if seed is None:
        raise harness.Skip("answers of a system the emulator does not serve")
    try:
        emu = harness.Emulator(seed, tmp)
    except RuntimeError as e:
        raise harness.Skip("the emulator takes no such seed: %s" % str(e).splitlines()[-1][:200])
    try:
        path = live_rules(rules, tmp, emu)
        state = os.path.join(tmp, "state.db")
        rc, out, err = harness.tandem(BUILD, ["plan", path, "--json", "--state", state], env_of(emu))
        if rc == 1 and ("needs the environment variable" in err or "is required" in err):
            raise harness.Skip("its sources cannot be pointed at the emulator: " + err.strip()[:200])
        check(rc in (0, 1, 2) and out.strip().startswith("{"), "plan: exit %d: %s" % (rc, err[-400:]))
        plan = json.loads(out)
        if "paused" in flags or "dry" in flags or "crash" in flags:
            return
        rc, out, err = harness.tandem(BUILD, ["run", path, "--now", "--state", state], env_of(emu))
        check(rc in (0, 1) and "Traceback" not in err, "run: exit %d: %s" % (rc, err[-400:]))
        if " owed to records" in out:
            # actions on records their system makes later (GetResponse)
            # are sent by the run that finds them: the plan is done then
            rc, out, err = harness.tandem(BUILD, ["run", path, "--now", "--state", state], env_of(emu))
            check(rc in (0, 1), "the run after: exit %d: %s" % (rc, err[-400:]))
        m = re.search(r"(\d+) refused", out)
        if m:
            raise harness.Skip("the emulator refused %s of the plan's changes (a check the replay does not make): %s"
                               % (m.group(1), out[out.index("refused"):][:300]))
        verify(plan, emu.state(), tally)
    finally:
        emu.stop()


def main():
    want = sys.argv[2:]
    only = None
    if want[:1] == ["--files"]:
        only = set(want[1].split(","))
        want = want[2:]
    t = harness.Tests()
    tally = Tally()
    for fn, name, rules, flags, answers in cases(only):
        if want and not any(w in name for w in want):
            continue

        def case(tmp, rules=rules, answers=answers, flags=flags):
            one_case(tmp, rules, answers, flags, tally)
        case.__name__ = "%s: %s" % (fn, name)
        t.run(case)
    print("compared %d changes and %d fields (%d fields kept apart by their system, not compared)" %
          (tally.changes, tally.fields, tally.skipped_fields))
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
