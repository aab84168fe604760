#!/usr/bin/env python3
"""soak.py - kill -9 at every write: for each shipped rule file, a first
run over the emulator is killed (SIGKILL, TANDEM_TEST_KILL_AFTER_WRITE)
the moment its Nth write has reached a system, for every N the
uninterrupted run makes; reruns must then settle (a run that applies
nothing) with nothing lost and nothing made twice: the systems end as an
uninterrupted run leaves them, record for record, tag for tag.

`make test` runs a sample of the kill points (the first, the last and a
few between: --sample); `make soak` runs every one.

usage: tests/live/soak.py BUILD_DIR [--sample K] [RULES...]
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check  # noqa: E402
import live_test  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"

# What differs between two runs that did the same thing: ids the systems
# give, times they stamp, and the order records were made in.
VOLATILE = re.compile(r"(^|_)(id|Id|ID)$|id$|Id$|date$|Date$|stamp$|Stamp$|^modifiedon$|^createdon$|On$|"
                      r"^links$|^href$|^versionnumber$|^owningbusinessunit$|_value$|^@odata|^attributes$|"
                      r"Last_Sync__c$")


def plain(v):
    """A nested value with its volatile keys dropped, comparable as text."""
    if isinstance(v, dict):
        return repr(sorted((k, plain(x)) for k, x in v.items() if not VOLATILE.search(k)))
    if isinstance(v, list):
        return repr([plain(x) for x in v])
    return v


def first_seed(name):
    """A seed whose first run writes to both systems."""
    if name == "activecampaign-dynamics365":
        seed = live_test.d365_seed(2)
        seed["dynamics365"]["untracked"] = ["contacts"]
        return seed
    if name == "getresponse-salesforce":
        return live_test.gr_seed(2)
    return harness.seed_from_examples(name)


def start(name, tmp):
    emu = harness.Emulator(first_seed(name), tmp)
    rules = harness.shipped_rules(name, tmp)
    state = os.path.join(tmp, "state.db")
    if name == "activecampaign-salesforce":
        # initial sync off: the first run starts the clock, edits after it sync
        rc, out, err = live_test.run(emu, rules, state)
        check(rc == 0, "the clock-starting run: exit %d: %s" % (rc, err))
        st = emu.state()
        for lead in st["salesforce"]["Lead"]:
            emu.touch("sf", "Lead", lead["Id"], {})
        for c in st["activecampaign"]["contacts"]:
            emu.touch("ac", "contacts", c["id"], {})
    return emu, rules, state


def email_of(row):
    for k, v in row.items():
        if "email" in k.lower() and isinstance(v, str) and "@" in v:
            return v.lower()
    return None


def semantic(st):
    """The systems' records with ids and times taken out, each row named by
    its e-mail where it has one, and every reference to a contact (a tag,
    a list membership, a field value) by that contact's e-mail."""
    out = {}
    for system, objs in st.items():
        if not isinstance(objs, dict):
            continue
        names = {}
        for obj, rows in objs.items():
            if isinstance(rows, list):
                for r in rows:
                    if isinstance(r, dict) and email_of(r):
                        for k in ("id", "Id", "contactId", "leadid", "contactid"):
                            if k in r:
                                names[str(r[k])] = email_of(r)
        tagname = {str(t.get("id")): t.get("tag") for t in objs.get("tags", []) if isinstance(t, dict)}
        fieldname = {str(f.get("id")): f.get("title") for f in objs.get("fields", []) if isinstance(f, dict)}
        listname = {str(x.get("id")): x.get("name") for x in objs.get("lists", []) if isinstance(x, dict)}
        for obj, rows in objs.items():
            if not isinstance(rows, list):
                continue
            shaped = []
            for r in rows:
                if not isinstance(r, dict):
                    shaped.append(repr(r))
                    continue
                s = {}
                for k, v in r.items():
                    if k in ("contact", "tag", "field", "list") and v is not None:
                        v = {"contact": names, "tag": tagname, "field": fieldname, "list": listname}[k].get(str(v), v)
                    elif VOLATILE.search(k):
                        continue
                    s[k] = plain(v)
                if "tags" in r and isinstance(r["tags"], list):
                    s["tags"] = repr(sorted(str(t.get("name", t.get("tagId"))) if isinstance(t, dict) else str(t)
                                            for t in r["tags"]))
                shaped.append(repr(sorted(s.items())))
            out[system + "." + obj] = sorted(shaped)
    return out


def settle(emu, rules, state, what, outs=None):
    for _ in range(4):
        rc, out, err = live_test.run(emu, rules, state)
        if outs is not None:
            outs.append(out)
        if rc == 0 and live_test.applied(out) == 0:
            return
    check(False, "%s: the reruns did not settle: exit %d, applied %d: %s %s" %
          (what, rc, live_test.applied(out), err[-400:], out[-600:]))


def writes_of(emu, since):
    return [e for e in emu.log() if e["n"] > since and e["method"] not in ("GET", "HEAD")]


def reference(name, tmp):
    """An uninterrupted first run, settled: the writes it made, and the
    systems as it leaves them."""
    emu, rules, state = start(name, tmp)
    try:
        n0 = emu.log()[-1]["n"] if emu.log() else 0
        rc, out, err = live_test.run(emu, rules, state)
        check(rc == 0 and live_test.applied(out) > 0, "%s: the first run: exit %d: %s" % (name, rc, err))
        writes = writes_of(emu, n0)
        settle(emu, rules, state, name)
        return writes, semantic(emu.state())
    finally:
        emu.stop()


def killed_at(name, k, want, tmp):
    emu, rules, state = start(name, tmp)
    try:
        rc, out, err = live_test.run(emu, rules, state, env={"TANDEM_TEST_KILL_AFTER_WRITE": str(k)})
        check(rc == -9, "%s, killed after write %d: exit %d, not killed: %s" % (name, k, rc, err[-300:]))
        sent = [(e["method"], e["path"], e["status"]) for e in emu.log() if e["method"] not in ("GET", "HEAD")]
        outs = []
        settle(emu, rules, state, "%s, killed after write %d" % (name, k), outs)
        got = semantic(emu.state())
        if got != want:
            diff = []
            for key in sorted(set(got) | set(want)):
                a, b = set(got.get(key, [])), set(want.get(key, []))
                for x in sorted(b - a)[:3]:
                    diff.append("  lost    %s %s" % (key, x[:300]))
                for x in sorted(a - b)[:3]:
                    diff.append("  extra   %s %s" % (key, x[:300]))
            # what it takes to tell a defect from a race of the test's own
            check(False, "%s, killed after write %d, then settled, differs from an uninterrupted run:\n%s\n"
                  "writes before and after the kill: %s\nthe reruns:\n%s" %
                  (name, k, "\n".join(diff[:12]), sent, "\n".join(o[-1500:] for o in outs)))
    finally:
        emu.stop()


def points(n, sample):
    if not sample or sample >= n:
        return list(range(1, n + 1))
    picks = {1, n}
    for i in range(1, sample - 1):
        picks.add(1 + (n - 1) * i // (sample - 1))
    return sorted(picks)


def main():
    args = sys.argv[2:]
    sample = 0
    if args[:1] == ["--sample"]:
        sample = int(args[1])
        args = args[2:]
    names = args or ["activecampaign-salesforce", "activecampaign-dynamics365", "getresponse-salesforce"]
    t = harness.Tests()
    for name in names:
        tmp = harness.tempfile.mkdtemp(prefix="tandem-soak-")
        try:
            writes, want = reference(name, tmp)
        finally:
            harness.shutil.rmtree(tmp, ignore_errors=True)
        print("%s: %d writes: %s" % (name, len(writes),
                                     ", ".join("%s %s" % (w["method"], w["path"]) for w in writes)), flush=True)
        for k in points(len(writes), sample):
            def case(tmp, k=k):
                killed_at(name, k, want, tmp)
            case.__name__ = "%s killed after write %d (%s %s)" % (name, k, writes[k - 1]["method"],
                                                                  writes[k - 1]["path"])
            t.run(case)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
