#!/usr/bin/env python3
"""bench.py - the benchmark driver of issue 6 (`make bench`): tandem side by
side with a jq filter, a Python script, a hand-written cJSON program and the
cJSON parse floor, on the same data in the same run, and the two-sided,
incremental and `check` cases.  Writes bench/results.md.  Python 3 stdlib.

usage: bench/bench.py [--n N] [--build DIR] [--runs R] [--no-callgrind]
                      [--callgrind-sync] [--out FILE]

  --n N           the largest number of leads; every size of 10k, 100k, 1M
                  up to N runs (N itself too when it is none of them)
  --build DIR     where tandem is (DIR/tandem) and where the data, the C
                  baselines and the outputs go (DIR/bench/)
  --runs R        runs of each case (median time, peak RSS over the runs)
  --no-callgrind  skip the instruction counts (they take a minute or two)
  --callgrind-sync  count cases 4 and 5 too (minutes more; `make bench`
                  passes BENCH_FLAGS, so BENCH_FLAGS=--callgrind-sync)
  --out FILE      the report (default bench/results.md)

Every case's output is checked against the Python script's (the readable
statement of what the rule file means) before its time is reported; a case
that disagrees is reported as such, with the first differences.  Nothing
here fails on a time: the targets are reported as met or not met.
bench/README.md describes the cases and how to read results.md.
"""
import argparse
import datetime
import glob
import hashlib
import importlib.util
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
RULES = os.path.join(BENCH, "leads.sync")
SIZES = (10000, 100000, 1000000)
SUBSET = 50000  # leads for the callgrind counts
CHECK_LINES = 10000
RUSAGE = None  # bench/rusage.c, built by main()
# gen.py dates the data 2026-11-01 00:00-08:00 and the changes 09:00; the
# replay source sees a change only when it is not after the run's time
AT_FULL = "2026-11-01T10:00:00Z"
AT_INCR = "2026-11-01T11:00:00Z"
# the rule file's sources name these; replay never uses their values
ENV_VARS = ("SF_INSTANCE_URL", "SF_CLIENT_ID", "SF_CLIENT_SECRET", "SF_REFRESH_TOKEN", "AC_API_URL", "AC_API_KEY")


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# the Python baseline is also the reference: its selected() and mapped() say
# what each case must print, and what the two-sided runs must create
SEL = load("bench_select", os.path.join(BENCH, "baselines", "select.py"))
PLAN = load("bench_plan_lines", os.path.join(BENCH, "plan_lines.py"))


# ---------------------------------------------------------------- running

class Case:
    """One program timed over the same data: its runs and what was found."""

    def __init__(self, name, argv, records, kind, ok=(0,), floor=None):
        self.name, self.argv, self.records, self.kind, self.ok = name, argv, records, kind, ok
        self.floor = floor  # the Case whose median is this one's denominator
        self.secs, self.rss = [], []  # per run: wall seconds, peak RSS (KiB)
        self.failed = None  # why a run failed, if one did
        self.agree = None  # True / False / None (no output to compare)
        self.diff = []  # what disagreed
        self.seen = []  # odd, but not a wrong output
        self.out = None  # stdout of the first run

    def median(self):
        return statistics.median(self.secs) if self.secs else None

    def peak(self):
        return max(self.rss) if self.rss else None


def run_once(argv, env, out_path, cwd=ROOT):
    """Run argv with stdout to out_path; (seconds, peak RSS KiB, exit code,
    stderr).  Through bench/rusage.c, which forks the command itself: a child
    of this Python process would inherit its RSS as a floor (bench/rusage.c
    says why)."""
    with open(out_path, "wb") as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rusage") as res:
        subprocess.run([RUSAGE, res.name] + argv, stdout=out, stderr=err, env=env, cwd=cwd)
        err.seek(0)
        fields = res.read().split()
        stderr = err.read().decode("utf-8", "replace")
        if len(fields) != 3:
            return 0.0, 0, 127, stderr or "rusage wrote no result"
        return float(fields[0]), int(fields[1]), int(fields[2]), stderr


def measure(case, env, out_path, r):
    if case.failed:
        return
    secs, rss, rc, err = run_once(case.argv, env, out_path)
    if rc not in case.ok:
        case.failed = "exit %d: %s" % (rc, (err.strip().splitlines() or [""])[-1][:200])
        log("  %s FAILED (%s)" % (case.name, case.failed))
        return
    case.secs.append(secs)
    case.rss.append(rss)
    if r == 0:
        case.out = out_path
    log("  run %d: %-32s %8.3f s %8.1f MB" % (r + 1, case.name, secs, rss / 1024))


# ---------------------------------------------------------------- data

def gen_stamp(args):
    with open(os.path.join(BENCH, "gen.py"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16] + " " + " ".join(args)


def ensure_data(out, n, *flags):
    """gen.py's data in out, reused when made by this gen.py with these
    arguments (a stamp file says so), made again otherwise."""
    args = [str(n)] + list(flags)
    stamp = os.path.join(out, ".stamp")
    want = gen_stamp(args)
    if os.path.exists(stamp) and open(stamp).read() == want:
        return out
    log("generating %s (gen.py %s)" % (os.path.relpath(out, ROOT), " ".join(args)))
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([sys.executable, os.path.join(BENCH, "gen.py"), str(n), out] + list(flags), check=True)
    with open(stamp, "w") as f:
        f.write(want)
    return out


def pages(d, obj):
    return sorted(glob.glob(os.path.join(d, *obj.split("/"), "*.json")))


def build_c(build, src):
    """cc -O2 a helper of bench/ (against the system cJSON), when its source
    is newer than the program."""
    src = os.path.join(BENCH, src)
    exe = os.path.join(build, "bench", "bin", os.path.splitext(os.path.basename(src))[0])
    if os.path.exists(exe) and os.path.getmtime(exe) >= os.path.getmtime(src):
        return exe
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    cflags = subprocess.run(["pkg-config", "--cflags", "libcjson"], capture_output=True, text=True).stdout.split()
    if not cflags:
        cflags = ["-I/usr/include/cjson"]
    cmd = [os.environ.get("CC", "cc"), "-O2", "-Wall", "-Wextra", "-std=c11"] + cflags + ["-o", exe, src, "-lcjson"]
    log(" ".join(cmd))
    subprocess.run(cmd, check=True)
    return exe


# ---------------------------------------------------------------- agreement

def sorted_lines(case):
    """The canonical lines a case printed, sorted, or None when it has none."""
    if case.kind == "plan":
        with open(case.out, encoding="utf-8") as f:
            plan = json.load(f)
        lines, problems = PLAN.plan_lines(plan)
        case.diff += ["plan: " + p for p in problems[:5]]
        creates = plan.get("summary", {}).get("creates")
        if creates != len(lines):
            case.diff.append("plan summary says %s creates, the plan lists %d" % (creates, len(lines)))
        return sorted(lines)
    if case.kind == "lines":
        with open(case.out, encoding="utf-8") as f:
            return sorted(f.read().splitlines())
    return None


def compare(lines, ref, what="reference"):
    """Differences between two sorted lists of canonical lines, by lead id."""
    if lines == ref:
        return []
    a = {json.loads(l)["id"]: json.loads(l) for l in lines}
    b = {json.loads(l)["id"]: json.loads(l) for l in ref}
    out = []
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if only_a:
        out.append("%d records only here (%s ...)" % (len(only_a), ", ".join(only_a[:3])))
    if only_b:
        out.append("%d records only in the %s (%s ...)" % (len(only_b), what, ", ".join(only_b[:3])))
    differing = [i for i in sorted(set(a) & set(b)) if a[i] != b[i]]
    if differing:
        out.append("%d records with other values" % len(differing))
    for i in differing[:5]:
        for k in sorted(set(a[i]) | set(b[i])):
            if a[i].get(k) != b[i].get(k):
                out.append("  %s %r: here %s, %s %s" % (i, k, json.dumps(a[i].get(k), ensure_ascii=False), what,
                                                          json.dumps(b[i].get(k), ensure_ascii=False)))
    if len(lines) != len(set(a)):
        out.append("%d lines for %d ids: some record printed twice" % (len(lines), len(a)))
    return out or ["the lines differ in order or spacing only"]


def check_outputs(cases, ref_case):
    """Compare each case's first output with the reference; the number of
    lines the reference printed (the selected leads)."""
    if ref_case.failed or ref_case.out is None:
        for c in cases:
            c.diff.append("not checked: the reference (Python json) failed")
        return 0
    ref = sorted_lines(ref_case)
    ref_case.agree = True
    for c in cases:
        if c is ref_case or c.failed or c.out is None:
            continue
        if c.kind == "floor":
            got = open(c.out).read().strip()
            c.agree = got == "records %d" % c.records
            if not c.agree:
                c.diff.append("parsed %r, expected %d records" % (got, c.records))
            continue
        try:
            c.diff += compare(sorted_lines(c), ref)
        except (ValueError, KeyError, TypeError) as e:  # output that is not what it should be
            c.diff.append("could not read its output: %s" % e)
        c.agree = not c.diff
        log("  %s: %s" % (c.name, "agrees" if c.agree else "DISAGREES: " + "; ".join(c.diff[:3])))
    return len(ref)


# ---------------------------------------------------------------- two-sided checks

def fold(email):
    # what tandem's docs call trimmed and case-folded; tandem folds case
    # character by character (str.lower), not with full folding (ß = ss)
    return email.strip().lower()


def read_leads(d):
    with open(os.path.join(d, "leads.jsonl"), encoding="utf-8") as f:
        return [json.loads(l) for l in f]


def contact_emails(d):
    """The contacts' e-mails, as raw strings (the caller folds)."""
    return [c["email"] for p in pages(d, "ac/contact") for c in json.load(open(p, encoding="utf-8"))["contacts"]]


def plan_counts(run_txt):
    """The 'Plan:' summary and '(read X and Y)' of a run's printed plan."""
    text = open(run_txt, encoding="utf-8").read()
    m = re.search(r"Plan: (\d+) to create, (\d+) to update, (\d+) to delete.*?(\d+) skipped", text)
    r = re.search(r"\(read (\d+) and (\d+)\)", text)
    counts = dict(zip(("creates", "updates", "deletes", "skipped"), map(int, m.groups()))) if m else {}
    if r:
        counts["read"] = (int(r.group(1)), int(r.group(2)))
    return counts


def audit_of_last_run(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    run, started = con.execute("select id, started from runs order by id desc limit 1").fetchone()
    links = dict(con.execute("select right_id, left_id from links where sync = 'leads'"))
    rows = con.execute("select record_id, action, field, after from audit where run = ?", (run,)).fetchall()
    added = [r[0] for r in con.execute("select left_id || ' <-> ' || right_id from links where sync = 'leads' "
                                       "and created = ? order by left_id", (started,))]
    con.close()
    return links, rows, added


def verify_initial(two, db, run_txt):
    """Case 4: every selected lead linked; those with no contact of the same
    (folded) e-mail created, with the values the reference maps."""
    leads = read_leads(two)
    sel = [l for l in leads if SEL.selected(l)]
    raw = contact_emails(two)
    emails = {fold(e) for e in raw}
    want_new = {l["Id"]: l for l in sel if fold(l["Email"]) not in emails}
    # gen.py upper-cases some contacts' e-mails with Python, which turns ß
    # into SS: under full Unicode case folding those would pair
    full = {e.strip().casefold() for e in raw}
    twins = sorted(i for i, l in want_new.items() if l["Email"].strip().casefold() in full)
    links, rows, _ = audit_of_last_run(db)
    linked = set(links.values())
    created = {}
    for rid, action, field, after in rows:
        if action == "create":
            rec = created.setdefault(links.get(rid, "?" + str(rid)), {"id": links.get(rid, "?" + str(rid))})
            if after is not None and json.loads(after) is not None:
                rec[field] = json.loads(after)
    facts = plan_counts(run_txt)
    facts.update(selected=len(sel), links=len(linked), expected_creates=len(want_new))
    notes = []
    want_ids = {l["Id"] for l in sel}
    if linked != want_ids:
        notes.append("links: %d selected leads not linked (%s), %d linked leads not selected (%s)" % (
            len(want_ids - linked), ", ".join(sorted(want_ids - linked)[:3]),
            len(linked - want_ids), ", ".join(sorted(linked - want_ids)[:3])))
    got = sorted(PLAN.canonical(r) for r in created.values())
    ref = sorted(SEL.line(SEL.mapped(l)) for l in want_new.values())
    notes += ["creates: " + d for d in compare(got, ref, "expected creates")]
    seen = []
    if twins:
        seen.append("%d of the created leads have a contact whose e-mail differs only by full case folding "
                    "(ß upper-cased to SS: lead %s, %r); tandem folds character by character, so they are "
                    "created, not paired" % (len(twins), twins[0], want_new[twins[0]]["Email"]))
    return facts, notes, seen


def verify_incremental(changed, db, run_txt):
    """Case 5: each changed lead that is selected updates its contact's
    phone, and nothing else is written."""
    leads = read_leads(changed)
    edited = [l for l in leads if l["SystemModstamp"].startswith("2026-11-01T09")]
    want = {(l["Id"], "phone", l["Phone"]) for l in edited if SEL.selected(l)}
    links, rows, added = audit_of_last_run(db)
    got = set()
    other = []
    for rid, action, field, after in rows:
        if action == "update":
            got.add((links.get(rid, "?" + str(rid)), field, json.loads(after) if after else None))
        else:
            other.append("%s %s %s" % (action, rid, field))
    facts = plan_counts(run_txt)
    facts.update(edited_leads=len(edited), expected_updates=len(want), links_added=len(added))
    notes, seen = [], []
    if got != want:
        miss, extra = sorted(want - got), sorted(got - want)
        notes.append("updates: %d expected not made %s; %d made not expected %s" % (
            len(miss), miss[:3], len(extra), extra[:3]))
    if other:
        notes.append("%d audit rows other than updates (%s ...)" % (len(other), ", ".join(other[:3])))
    # the initial run links only selected leads; a changed contact must not
    # link a lead its selection rejects either (docs/plan.md, Pair)
    by_id = {l["Id"]: l for l in leads}
    unselected = [a for a in added if not SEL.selected(by_id[a.split()[0]])]
    if unselected:
        notes.append("the incremental run linked %d leads its selection rejects to the changed contacts that "
                     "share their e-mail, e.g. %s" % (len(unselected), ", ".join(unselected[:3])))
    if len(added) > len(unselected):
        notes.append("%d links added for selected leads" % (len(added) - len(unselected)))
    return facts, notes, seen


def copy_state(src_dir, dst_dir):
    shutil.rmtree(dst_dir, ignore_errors=True)
    shutil.copytree(os.path.join(src_dir, "outbox"), os.path.join(dst_dir, "outbox"))
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(os.path.join(src_dir, "state.db" + suffix)):
            shutil.copy2(os.path.join(src_dir, "state.db" + suffix), os.path.join(dst_dir, "state.db" + suffix))
    # On disk before the run is timed: the copy's pages still waiting to be
    # written would be written by the run's first fsync of the state (its
    # checkpoint), a cost of this harness's copy (about 70 ms for 200 MB
    # here), not of an hourly run, whose state was written long before.
    for root, _dirs, files in os.walk(dst_dir):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


# ---------------------------------------------------------------- one size

def bench_size(n, opt, env, tandem, exe):
    base = os.path.join(opt.build, "bench", str(n))
    leads = ensure_data(os.path.join(base, "leads"), n)
    two = ensure_data(os.path.join(base, "two"), n, "--contacts")
    changed = ensure_data(os.path.join(base, "two-changed"), n, "--contacts", "--changed", "1", "--delta")
    outd = os.path.join(base, "out")
    os.makedirs(outd, exist_ok=True)
    lead_pages, jsonl = pages(leads, "sf/Lead"), os.path.join(leads, "leads.jsonl")
    both_pages = pages(two, "sf/Lead") + pages(two, "ac/contact")
    n_contacts = sum(len(json.load(open(p, encoding="utf-8"))["contacts"]) for p in pages(two, "ac/contact"))
    absent = os.path.join(outd, "no-state.db")  # plan: an empty state, no file
    if os.path.exists(absent):
        os.remove(absent)

    floor = Case("cJSON parse floor (pages)", [exe["parse_floor"]] + lead_pages, n, "floor")
    floor.floor = floor
    floor2 = Case("cJSON parse floor, both sides", [exe["parse_floor"]] + both_pages, n + n_contacts, "floor")
    floor2.floor = floor2
    ref = Case("Python json", [sys.executable, os.path.join(BENCH, "baselines", "select.py")] + lead_pages, n,
               "lines", floor=floor)
    cases = [
        Case("tandem plan", [tandem, "plan", RULES, "--replay", leads, "--state", absent, "--json", "--at", AT_FULL],
             n, "plan", ok=(0, 2), floor=floor),
        Case("jq filter", ["jq", "-c", "-S", "-f", os.path.join(BENCH, "baselines", "select.jq")] + lead_pages, n,
             "lines", floor=floor),
        ref,
        Case("hand-written C (pages)", [exe["handwritten"]] + lead_pages, n, "lines", floor=floor),
        Case("hand-written C (lines)", [exe["handwritten"], "--lines", jsonl], n, "lines", floor=floor),
        floor,
        Case("cJSON parse floor (lines)", [exe["parse_floor"], "--lines", jsonl], n, "floor", floor=floor),
    ]
    log("N=%d: cases 1-3, %d runs each" % (n, opt.runs))
    for r in range(opt.runs):  # round robin, so drift hits every case alike
        for i, c in enumerate(cases):
            # only the first run's output is checked; later runs overwrite one file
            measure(c, env, os.path.join(outd, "case%d-%s.out" % (i, "first" if r == 0 else "later")), r)
    log("N=%d: checking outputs" % n)
    selected = check_outputs(cases, ref)

    # cases 4 and 5: each run starts from nothing (4) or from the state and
    # outbox case 4 left (5); only the first run's results are checked
    init = Case("initial two-sided sync (4)", None, n + n_contacts, "run", floor=floor2)
    incr = Case("incremental, 1% changed (5)", None, n + n_contacts, "run", floor=floor2)
    work = os.path.join(base, "work")
    facts4 = facts5 = None
    notes4, notes5 = [], []
    log("N=%d: cases 4-5, %d runs each" % (n, opt.runs))
    for r in range(opt.runs):
        measure(floor2, env, os.path.join(outd, "floor2-%s.out" % ("first" if r == 0 else "later")), r)
        d4, d5 = os.path.join(work, "initial-%d" % r), os.path.join(work, "incremental-%d" % r)
        shutil.rmtree(d4, ignore_errors=True)
        os.makedirs(d4)
        init.argv = [tandem, "run", RULES, "--replay", two, "--state", os.path.join(d4, "state.db"),
                     "--outbox", os.path.join(d4, "outbox"), "--now", "--at", AT_FULL]
        measure(init, env, os.path.join(d4, "run.txt"), r)
        if init.failed:
            incr.failed = incr.failed or "not run: the initial sync failed"
            break
        copy_state(d4, d5)
        incr.argv = [tandem, "run", RULES, "--replay", changed, "--state", os.path.join(d5, "state.db"),
                     "--outbox", os.path.join(d5, "outbox"), "--now", "--at", AT_INCR]
        measure(incr, env, os.path.join(d5, "run.txt"), r)
        if r == 0:
            facts4, notes4, init.seen = verify_initial(two, os.path.join(d4, "state.db"),
                                                       os.path.join(d4, "run.txt"))
            init.agree, init.diff = not notes4, notes4
            if not incr.failed:
                facts5, notes5, incr.seen = verify_incremental(changed, os.path.join(d5, "state.db"),
                                                               os.path.join(d5, "run.txt"))
                incr.agree, incr.diff = not notes5, notes5
            log("  initial: %s %s" % (facts4, "; ".join(notes4 + init.seen) or "as expected"))
            log("  incremental: %s %s" % (facts5, "; ".join(notes5 + incr.seen) or "as expected"))
        else:  # keep the first run's state and outbox to look at, not all
            shutil.rmtree(d4, ignore_errors=True)
            shutil.rmtree(d5, ignore_errors=True)
    floor2.agree = open(floor2.out).read().strip() == "records %d" % (n + n_contacts) if floor2.out else None
    return {"n": n, "contacts": n_contacts, "selected": selected, "cases": cases, "floor2": floor2,
            "init": init, "incr": incr, "facts4": facts4, "facts5": facts5}


# ---------------------------------------------------------------- check, callgrind

def bench_check(opt, env, tandem):
    path = os.path.join(opt.build, "bench", "rules-%d.sync" % CHECK_LINES)
    with open(path, "w", encoding="utf-8") as f:
        subprocess.run([sys.executable, os.path.join(BENCH, "gen_rules.py"), str(CHECK_LINES)], stdout=f, check=True)
    case = Case("tandem check, %d lines (6)" % CHECK_LINES, [tandem, "check", "--strict", path], CHECK_LINES, "check")
    log("case 6: tandem check of %d lines" % CHECK_LINES)
    out = os.path.join(opt.build, "bench", "check.out")
    for r in range(max(opt.runs, 5)):  # short: a few more runs for a stable median
        measure(case, env, out, r)
    if not case.failed:
        # --strict: a warning would fail it too; the file must be clean
        case.agree = True
    return case


def hot_spots(prof, k=12):
    """The k functions with the most instructions of their own (self), and
    tandem's k functions with the most under them (inclusive)."""
    def rows(*flags):
        ann = subprocess.run(["callgrind_annotate"] + list(flags) + [prof], capture_output=True, text=True).stdout
        return [l.strip() for l in ann.splitlines() if re.match(r"\s*[\d,]+ \(\s*[\d.]+%\)\s+\S", l)
                and "PROGRAM TOTALS" not in l]
    own = rows()[:k]
    # callgrind_annotate lists a function twice (by source path and by
    # object); keep the object form; main and the command driver say nothing
    under = [l for l in rows("--inclusive=yes") if " src/" in l and "[" in l
             and not re.search(r"src/cli\.c:(main|cmd_)", l)][:k]
    text = "self:\n" + "\n".join(own) + "\n\ninclusive (tandem's functions):\n" + "\n".join(under)
    # the report is committed: no path of this machine in it (objects by
    # their file name, sources relative to the tree)
    text = re.sub(r"\[/[^\]]*/([^/\]]+)\]", r"[\1]", text.replace(ROOT + "/", ""))
    return re.sub(r"(?m)^(\s*[\d,]+ \(\s*[\d.]+%\)\s+)/\S*/(sysdeps|malloc|string|libio|stdio-common|nptl|stdlib)/",
                  r"\1glibc/\2/", text)


def callgrind(opt, env, tandem, exe):
    if opt.no_callgrind:
        return None, "skipped (--no-callgrind)"
    if not shutil.which("valgrind"):
        return None, "skipped: valgrind is not installed"
    d = ensure_data(os.path.join(opt.build, "bench", str(SUBSET), "leads"), SUBSET)
    lead_pages, jsonl = pages(d, "sf/Lead"), os.path.join(d, "leads.jsonl")
    absent = os.path.join(d, "no-state.db")
    progs = [
        ("tandem plan", [tandem, "plan", RULES, "--replay", d, "--state", absent, "--json", "--at", AT_FULL]),
        ("hand-written C (pages)", [exe["handwritten"]] + lead_pages),
        ("hand-written C (lines)", [exe["handwritten"], "--lines", jsonl]),
        ("cJSON parse floor (pages)", [exe["parse_floor"]] + lead_pages),
        ("cJSON parse floor (lines)", [exe["parse_floor"], "--lines", jsonl]),
    ]
    per = {name: SUBSET for name, _ in progs}
    cg = os.path.join(opt.build, "bench", "callgrind")
    os.makedirs(cg, exist_ok=True)
    if opt.callgrind_sync:
        # cases 4 and 5 on the subset: both steps in one list, since the
        # second needs what the first left (state and outbox, copied)
        two = ensure_data(os.path.join(opt.build, "bench", str(SUBSET), "two"), SUBSET, "--contacts")
        chg = ensure_data(os.path.join(opt.build, "bench", str(SUBSET), "two-changed"), SUBSET, "--contacts", "--delta",
                          "--changed", "1")
        d4, d5 = os.path.join(cg, "initial"), os.path.join(cg, "incremental")
        shutil.rmtree(d4, ignore_errors=True)
        os.makedirs(d4)
        both = SUBSET + sum(len(json.load(open(p, encoding="utf-8"))["contacts"]) for p in pages(two, "ac/contact"))
        progs += [("initial two-sided sync (4)", [tandem, "run", RULES, "--replay", two, "--state",
                                                  os.path.join(d4, "state.db"), "--outbox", os.path.join(d4, "outbox"),
                                                  "--now", "--at", AT_FULL]),
                  ("incremental, 1% changed (5)", [tandem, "run", RULES, "--replay", chg, "--state",
                                                   os.path.join(d5, "state.db"), "--outbox",
                                                   os.path.join(d5, "outbox"), "--now", "--at", AT_INCR])]
        per.update({progs[-2][0]: both, progs[-1][0]: both})
    rows, top = [], {}  # top: tandem case -> its most expensive functions
    for name, argv in progs:
        if name.startswith("incremental"):
            copy_state(os.path.join(cg, "initial"), os.path.join(cg, "incremental"))
        log("callgrind: %s on %d leads" % (name, SUBSET))
        prof = os.path.join(cg, re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") + ".out")
        with open(os.devnull, "wb") as null:
            subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + prof] + argv,
                           stdout=null, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        total = None
        with open(prof) as f:
            for ln in f:
                if ln.startswith(("summary:", "totals:")):
                    total = int(ln.split()[1])
        rows.append((name, total, per[name], os.path.relpath(prof, ROOT)))
        if argv[0] == tandem and shutil.which("callgrind_annotate"):
            top[name] = hot_spots(prof)
    return rows, top


# ---------------------------------------------------------------- report

def sh(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "?"


def machine(tandem):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for ln in f:
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo") as f:
        for ln in f:
            if ln.startswith("MemTotal"):
                mem = "%.1f GiB" % (int(ln.split()[1]) / 1024 / 1024)
    osname = platform.system()
    if os.path.exists("/etc/os-release"):
        rel = dict(l.rstrip("\n").split("=", 1) for l in open("/etc/os-release") if "=" in l)
        osname = rel.get("PRETTY_NAME", osname).strip('"')
    return [("CPU", "%s, %d cores" % (cpu, os.cpu_count())), ("RAM", mem),
            ("OS", "%s, kernel %s" % (osname, platform.release())),
            ("compiler", sh([os.environ.get("CC", "cc"), "--version"])),
            ("cJSON", sh(["pkg-config", "--modversion", "libcjson"])), ("jq", sh(["jq", "--version"])),
            ("Python", platform.python_version()), ("valgrind", sh(["valgrind", "--version"])),
            ("tandem", "%s, commit %s (HEAD when the run started), binary built %s" % (
                sh([tandem, "--version"]), sh(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
                datetime.datetime.fromtimestamp(os.path.getmtime(tandem), datetime.timezone.utc).strftime(
                    "%Y-%m-%d %H:%M UTC")))]


def fmt_s(x):
    return "-" if x is None else ("%.3f" % x if x < 10 else "%.2f" % x)


def fmt_rate(records, secs):
    return "-" if not secs else "{:,.0f}".format(records / secs)


def fmt_mb(kib):
    return "-" if kib is None else "%.1f" % (kib / 1024)


def status(c):
    if c.failed:
        return "FAILED: " + c.failed
    if c.agree is None:
        return ""
    if c.kind == "floor":
        return "read all" if c.agree else "WRONG COUNT"
    if c.kind == "check":
        return "clean"
    if c.kind == "run":
        return "as expected" if c.agree else "DIFFERS (see notes)"
    return "reference" if c.name == "Python json" else ("agrees" if c.agree else "DISAGREES (see notes)")


def row(c, label=None):
    ratio = "-"
    if c.floor and c.median() and c.floor.median():
        ratio = "%.2f" % (c.median() / c.floor.median())
    return "| %s | %s | %s | %s | %s | %s | %s |" % (
        label or c.name, "{:,}".format(c.records), fmt_s(c.median()), fmt_rate(c.records, c.median()), ratio,
        fmt_mb(c.peak()), status(c))


def targets(sizes, check):
    """(target, figure, status) for each of issue 6's targets, at 1M when
    it ran, else at the largest size with a note."""
    by_n = {s["n"]: s for s in sizes}
    top = by_n.get(1000000) or sizes[-1]
    where = "" if top["n"] == 1000000 else " (at N=%s; the target is for 1M)" % "{:,}".format(top["n"])

    def case(s, name):
        return next(c for c in s["cases"] if c.name == name)

    def verdict(ok):
        return "not measured" if ok is None else ("met" if ok else "not met") + where

    out = []
    plan, floor = case(top, "tandem plan"), case(top, "cJSON parse floor (pages)")
    usable = plan.median() and plan.agree
    r = plan.median() / floor.median() if usable and floor.median() else None
    out.append(("plan of 1M <= cJSON parse floor (ratio <= 1.0)", "ratio %.2f" % r if r else "-",
                verdict(None if r is None else r <= 1.0)))
    for hw in ("hand-written C (pages)", "hand-written C (lines)"):
        h = case(top, hw)
        ok = plan.median() < h.median() if usable and h.median() else None
        out.append(("plan of 1M faster than %s" % hw, "%s s vs %s s" % (fmt_s(plan.median()), fmt_s(h.median())),
                    verdict(ok)))
    init, incr = top["init"], top["incr"]
    r4 = init.median() / top["floor2"].median() if init.median() and top["floor2"].median() else None
    out.append(("two-sided initial 1M x 1M, ratio <= 3.0", "ratio %.2f" % r4 if r4 else "-",
                verdict(None if r4 is None else r4 <= 3.0)))
    r5 = incr.median() / init.median() if incr.median() and init.median() else None
    out.append(("incremental <= 5% of the full run", "%.1f%%" % (100 * r5) if r5 else "-",
                verdict(None if r5 is None else r5 <= 0.05)))
    small = by_n.get(100000)
    for name, get in (("plan", lambda s: case(s, "tandem plan")), ("initial sync", lambda s: s["init"]),
                      ("incremental", lambda s: s["incr"])):
        big = get(top).peak()
        out.append(("peak RSS at 1M <= 150 MB (%s)" % name, "%s MB" % fmt_mb(big),
                    verdict(None if big is None else big <= 150 * 1024)))
        if top["n"] == 1000000 and small and get(small).peak() and big:
            k = big / get(small).peak()
            out.append(("peak RSS at 1M <= 3x 100k (%s)" % name, "%.2fx" % k, "met" if k <= 3 else "not met"))
        else:
            out.append(("peak RSS at 1M <= 3x 100k (%s)" % name, "-", "not measured (needs N=1000000)"))
    ms = check.median() * 1000 if check.median() else None
    out.append(("check of 10,000 lines < 100 ms", "%.1f ms" % ms if ms else "-",
                "not measured" if ms is None or not check.agree else ("met" if ms < 100 else "not met")))
    return out


def write_results(opt, mach, sizes, check, cg, started):
    L = ["# tandem benchmark results", "",
         "Written by `bench/bench.py` (`make bench N=%d`) on %s, %d runs per case: times are medians, peak RSS "
         "the largest of the runs.  bench/README.md describes the cases and the columns." % (
             opt.n, started.strftime("%Y-%m-%d %H:%M UTC"), opt.runs), ""]
    if opt.n < 1000000:
        L += ["This run stops at N=%s; the issue's targets are for 1M leads (`make bench N=1000000`), so they are "
              "judged below on the largest size that ran, and say so." % "{:,}".format(opt.n), ""]
    L += ["## Machine", ""] + ["- %s: %s" % kv for kv in mach] + [""]
    notes = []
    for s in sizes:
        L += ["## N = %s leads" % "{:,}".format(s["n"]), "",
              "%s leads in %d query pages; the two-sided cases add %s ActiveCampaign contacts.  %s leads are "
              "selected (creates)." % ("{:,}".format(s["n"]), (s["n"] + 1999) // 2000, "{:,}".format(s["contacts"]),
                                       "{:,}".format(s["selected"])), "",
              "| case | records | median s | records/s | ratio to floor | peak RSS MB | output |",
              "|---|---:|---:|---:|---:|---:|---|"]
        L += [row(c) for c in s["cases"]]
        L += [row(s["floor2"]), row(s["init"]), row(s["incr"])]
        L += [""]
        num = lambda d: {k: "{:,}".format(v) if isinstance(v, int) else v for k, v in d.items()}
        f4, f5 = num(s["facts4"] or {}), num(s["facts5"] or {})
        if f4:
            L += ["Initial sync: %s selected leads, %s linked, %s created (expected %s), %s updated, %s skipped."
                  % (f4.get("selected"), f4.get("links"), f4.get("creates"), f4.get("expected_creates"),
                     f4.get("updates"), f4.get("skipped"))]
        if f5:
            rd = ["{:,}".format(x) for x in s["facts5"].get("read", ())] or ["?", "?"]
            L += ["Incremental: %s leads edited, read %s leads and %s contacts, %s updated (expected %s), "
                  "%s created, %s links added." % (f5.get("edited_leads"), rd[0], rd[1], f5.get("updates"),
                                                    f5.get("expected_updates"), f5.get("creates"),
                                                    f5.get("links_added"))]
        L += [""]
        for c in s["cases"] + [s["floor2"], s["init"], s["incr"]]:
            if c.diff or c.failed:
                notes.append("- N=%d, %s: %s" % (s["n"], c.name, "; ".join(([c.failed] if c.failed else []) +
                                                                           c.diff[:12])))
            for o in c.seen:
                notes.append("- N=%d, %s (observed): %s" % (s["n"], c.name, o))
    L += ["## Check", "", "| case | lines | median s | lines/s | ratio | peak RSS MB | output |",
          "|---|---:|---:|---:|---:|---:|---|", row(check), ""]
    if check.failed:
        notes.append("- %s: %s" % (check.name, check.failed))
    L += ["## Targets (issue 6)", "", "| target | measured | status |", "|---|---|---|"]
    L += ["| %s | %s | %s |" % t for t in targets(sizes, check)]
    L += ["", "## Instructions (callgrind, %s leads)" % "{:,}".format(SUBSET), ""]
    rows, top = cg
    if rows is None:
        L += [top, ""]
    else:
        L += ["| program | records | instructions | per record |", "|---|---:|---:|---:|"]
        L += ["| %s | %s | %s | %s |" % (name, "{:,}".format(k), "{:,}".format(t) if t else "-",
                                         "{:,.0f}".format(t / k) if t else "-") for name, t, k, _ in rows]
        L += ["", "Profiles: %s (open with callgrind_annotate or kcachegrind)." % ", ".join(
            "`%s`" % p for _, _, _, p in rows)]
        for name, text in top.items():
            L += ["", "Where `%s` spends its instructions:" % name, "", "```", text, "```"]
        L += [""]
    L += ["## Notes", ""] + (notes or ["- every case agreed with the reference."]) + [""]
    with open(opt.out, "w", encoding="utf-8") as f:
        f.write("\n".join(L))
    log("wrote " + os.path.relpath(opt.out, ROOT))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--callgrind-sync", action="store_true",
                    help="also count cases 4 and 5 on the subset (a few minutes more)")
    ap.add_argument("--out", default=os.path.join(BENCH, "results.md"))
    opt = ap.parse_args()
    opt.build = os.path.abspath(opt.build)
    started = datetime.datetime.now(datetime.timezone.utc)
    tandem = os.path.join(opt.build, "tandem")
    if not os.access(tandem, os.X_OK):
        sys.exit("bench: no %s: run make first" % tandem)
    mach = machine(tandem)  # now: the commit is the one the run starts with
    env = dict(os.environ, TANDEM_STDLIB=os.path.join(ROOT, "stdlib"))
    for v in ENV_VARS:
        env.setdefault(v, "bench-unused")
    global RUSAGE
    RUSAGE = build_c(opt.build, "rusage.c")
    exe = {name: build_c(opt.build, "baselines/%s.c" % name) for name in ("handwritten", "parse_floor")}
    sizes = [s for s in SIZES if s <= opt.n] + ([opt.n] if opt.n not in SIZES else [])
    sizes.sort()
    results = [bench_size(n, opt, env, tandem, exe) for n in sizes]
    check = bench_check(opt, env, tandem)
    cg = callgrind(opt, env, tandem, exe)
    write_results(opt, mach, results, check, cg, started)
    log("done in %.0f s" % (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds())


if __name__ == "__main__":
    main()
