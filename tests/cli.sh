#!/bin/sh
# cli.sh - tests of the tandem command line: exit codes, help, output forms,
# fmt modes, module lookup and the installed layout.
# usage: tests/cli.sh BUILD_DIR    (prints "N passed, N failed")
set -u
BUILD=${1:-build}
T="$BUILD/tandem"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL cli: $1"; }

# expect NAME WANT_STATUS CMD... : runs CMD, captures out/err, checks status
expect() {
    name=$1 want=$2
    shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"
    got=$?
    if [ "$got" -eq "$want" ]; then ok; else bad "$name: exit $got, want $want"; sed 's/^/    /' "$TMP/err" | head -5; fi
}
contains() { # NAME FILE TEXT
    if grep -qF -- "$3" "$2"; then ok; else bad "$1: '$3' not in $(basename "$2")"; sed 's/^/    /' "$2" | head -5; fi
}
empty() { # NAME FILE
    if [ ! -s "$2" ]; then ok; else bad "$1: $(basename "$2") not empty"; sed 's/^/    /' "$2" | head -5; fi
}

HEAD='use salesforce, activecampaign
source sf = salesforce { instance = env("I"); auth = oauth2(client_id = env("C"), refresh_token = secret("R")) }
source ac = activecampaign { url = env("U"); api_key = secret("K") }'

cat >"$TMP/clean.sync" <<EOF
$HEAD
sync leads: sf.Lead <-> ac.contact {
    match Email = email
    use defaults
    prefer sf
}
EOF
cat >"$TMP/warn.sync" <<EOF
$HEAD
sync leads: sf.Lead <-> ac.contact {
    match Email = email
    use defaults
}
EOF
cat >"$TMP/error.sync" <<EOF
$HEAD
sync leads: sf.Lead <-> ac.contact {
    match Emial = email
    use defaults
    prefer sf
    map Titel -> lastName
}
EOF

# version and help
expect "--version" 0 "$T" --version
contains "--version" "$TMP/out" "tandem "
expect "no command" 2 "$T"
contains "no command" "$TMP/err" "usage: tandem <command>"
expect "unknown command" 2 "$T" chekc
contains "unknown command" "$TMP/err" "unknown command 'chekc' (did you mean 'check'?)"
for c in check fmt; do
    expect "$c --help" 0 "$T" "$c" --help
    contains "$c --help" "$TMP/out" "usage: tandem $c"
    expect "help $c" 0 "$T" help "$c"
    contains "help $c" "$TMP/out" "usage: tandem $c"
    expect "$c --version" 0 "$T" "$c" --version
done
expect "--help" 0 "$T" --help
contains "--help" "$TMP/out" "commands:"

# check: exit codes and forms
expect "check clean" 0 "$T" check "$TMP/clean.sync"
empty "check clean prints nothing" "$TMP/err"
expect "check errors" 1 "$T" check "$TMP/error.sync"
contains "check errors" "$TMP/err" "error.sync:5:11: error: unknown field 'Emial' on Lead (did you mean 'Email'?)"
contains "check reports every error" "$TMP/err" "unknown field 'Titel'"
contains "check shows the source line" "$TMP/err" "    5 |     match Emial = email"
expect "check warnings pass" 0 "$T" check "$TMP/warn.sync"
contains "check warnings shown" "$TMP/err" "warning:"
expect "check --strict" 1 "$T" check --strict "$TMP/warn.sync"
expect "check several files" 1 "$T" check "$TMP/clean.sync" "$TMP/error.sync"
expect "check no file" 2 "$T" check
expect "check bad option" 2 "$T" check --bogus "$TMP/clean.sync"
expect "check bad format" 2 "$T" check --format xml "$TMP/clean.sync"
expect "check missing file" 1 "$T" check "$TMP/nope.sync"
contains "check missing file" "$TMP/err" "cannot read"
expect "check json" 1 "$T" check --format json "$TMP/error.sync" "$TMP/warn.sync"
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d)==3 and d[0]["line"]==5 and d[0]["column"]==11 and d[0]["severity"]=="error"' "$TMP/out" 2>"$TMP/py"; then ok; else bad "check json is valid and complete"; cat "$TMP/out" "$TMP/py"; fi
expect "check json clean" 0 "$T" check --format=json "$TMP/clean.sync"
contains "check json clean" "$TMP/out" "[]"
NO_COLOR=1 "$T" check "$TMP/error.sync" 2>"$TMP/err"
if grep -q "$(printf '\033')" "$TMP/err"; then bad "NO_COLOR output has escapes"; else ok; fi
expect "check --tree" 0 "$T" check --tree "$TMP/clean.sync"
contains "check --tree" "$TMP/out" '(field "Email" :email side=0)'
expect "check --stdlib elsewhere" 1 "$T" check --stdlib "$TMP/none" "$TMP/clean.sync"
contains "check --stdlib elsewhere" "$TMP/err" "unknown module 'salesforce'"
TANDEM_STDLIB="$TMP/none" "$T" check "$TMP/clean.sync" 2>"$TMP/err" && bad "TANDEM_STDLIB ignored" || ok

# modules next to the rule file
mkdir -p "$TMP/proj"
cat >"$TMP/proj/shop.sync" <<'EOF'
system shop {
    kind marketing
    object buyer {
        key id
        has tags
        id: id readonly
        email: email required
    }
}
EOF
cat >"$TMP/proj/rules.sync" <<'EOF'
use salesforce, shop
source sf = salesforce { instance = env("I"); auth = oauth2(client_id = env("C"), refresh_token = secret("R")) }
source sh = shop {}
sync buyers: sf.Contact -> sh.buyer {
    match Email = email
    map Email -> email
}
EOF
expect "local module" 0 "$T" check "$TMP/proj/rules.sync"
printf 'sync x: a.B <-> c.D {\n}\n' >>"$TMP/proj/shop.sync"
expect "module with a sync" 1 "$T" check "$TMP/proj/rules.sync"
contains "module with a sync" "$TMP/err" "shop.sync:10:1: error: 'sync' belongs in a rule file, not in module 'shop'"

# a file that uses itself loads once
cat >"$TMP/proj/self.sync" <<'EOF'
use salesforce, self
EOF
expect "a rule file using itself" 0 "$T" check "$TMP/proj/self.sync"

# a very long chain of conditions is refused, not a crash
{
    printf '%s\n' "$HEAD" 'sync l: sf.Lead <-> ac.contact {' '    match Email = email' '    use defaults' '    prefer sf'
    printf '    skip when Email is blank'
    i=0
    while [ $i -lt 1200 ]; do printf ' or Email is blank'; i=$((i + 1)); done
    printf '\n}\n'
} >"$TMP/long.sync"
expect "a very long expression" 1 "$T" check "$TMP/long.sync"
contains "a very long expression" "$TMP/err" "expression too long: more than 1000 operators in a row"

# a file of many syncs checks, builds and formats (what a 50 MB one takes
# is measured by hand, not asserted here)
python3 - "$TMP/many.sync" "$HEAD" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write(sys.argv[2] + "\n")
    for i in range(3000):
        f.write('sync s%d: sf.Lead <-> ac.contact {\n    match Email = email\n    prefer sf\n    new in sf never\n'
                '    map FirstName <-> firstName\n    map LastName <-> lastName\n'
                '    skip when Email is blank or LastName == "nobody %d"\n    on create in ac: tag "from-sf-%d"\n}\n' % (i, i, i))
PY
expect "many syncs check" 0 "$T" check --strict "$TMP/many.sync"
expect "many syncs build" 0 "$T" build "$TMP/many.sync" -o "$TMP/many.tbc"
expect "many syncs format" 0 "$T" fmt "$TMP/many.sync"

# fmt
printf 'paused;schedule every 4h\n' >"$TMP/ugly.sync"
expect "fmt prints" 0 "$T" fmt "$TMP/ugly.sync"
if [ "$(cat "$TMP/out")" = "$(printf 'paused\nschedule every 4h')" ]; then ok; else bad "fmt output"; cat "$TMP/out"; fi
expect "fmt --check differs" 1 "$T" fmt --check "$TMP/ugly.sync"
contains "fmt --check names the file" "$TMP/out" "ugly.sync"
expect "fmt --check clean" 0 "$T" fmt --check rules/activecampaign-salesforce.sync
chmod 640 "$TMP/ugly.sync"
expect "fmt --write" 0 "$T" fmt --write "$TMP/ugly.sync"
expect "fmt --write result" 0 "$T" fmt --check "$TMP/ugly.sync"
if [ "$(stat -c %a "$TMP/ugly.sync")" = 640 ]; then ok; else bad "fmt --write keeps the file mode"; fi
expect "fmt --check --write" 2 "$T" fmt --check --write "$TMP/ugly.sync"
printf 'sync x: {\n' >"$TMP/broken.sync"
expect "fmt syntax error" 1 "$T" fmt "$TMP/broken.sync"
contains "fmt syntax error" "$TMP/err" "broken.sync:1:9: error:"
cp "$TMP/broken.sync" "$TMP/broken2.sync"
expect "fmt --write leaves a broken file" 1 "$T" fmt --write "$TMP/broken2.sync"
if cmp -s "$TMP/broken.sync" "$TMP/broken2.sync"; then ok; else bad "fmt --write changed a broken file"; fi

# build, explain, eval
for r in rules/*.sync; do
    expect "explain $(basename "$r")" 0 "$T" explain "$r"
    contains "explain $(basename "$r")" "$TMP/out" "-- update"
done
expect "explain --json" 0 "$T" explain --json rules/getresponse-salesforce.sync
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["syncs"]) == 3 and d["syncs"][0]["entries"][0]["code"][0]["line"] > 0' "$TMP/out" 2>"$TMP/py"; then ok; else bad "explain --json is valid"; cat "$TMP/py"; fi
expect "explain --opcodes" 0 "$T" explain --opcodes
if cmp -s "$TMP/out" docs/opcodes.md; then ok; else bad "docs/opcodes.md is out of date: run make docs"; fi
expect "build" 0 "$T" build rules/activecampaign-salesforce.sync -o "$TMP/acsf.tbc"
expect "explain a program file" 0 "$T" explain --no-lines "$TMP/acsf.tbc"
"$T" explain --no-lines rules/activecampaign-salesforce.sync >"$TMP/from-rules" 2>/dev/null
if cmp -s "$TMP/out" "$TMP/from-rules"; then ok; else bad "a program file explains like its rule file"; fi
head -c 300 "$TMP/acsf.tbc" >"$TMP/cut.tbc"
expect "a truncated program" 1 "$T" explain "$TMP/cut.tbc"
contains "a truncated program" "$TMP/err" "truncated program"
cp "$TMP/acsf.tbc" "$TMP/bad.tbc"
printf 'X' | dd of="$TMP/bad.tbc" bs=1 seek=500 conv=notrunc 2>/dev/null
expect "a corrupted program" 1 "$T" explain "$TMP/bad.tbc"
contains "a corrupted program" "$TMP/err" "checksum"
expect "build a broken file" 1 "$T" build "$TMP/error.sync" -o "$TMP/x.tbc"
LEAD='sf={"Id":"00Q1","LastName":"Lee","Company":"Acme","Email":"ann@x.io","Status":"Open - Not Contacted","LeadSource":"Web"}'
expect "eval a create" 0 "$T" eval "$TMP/acsf.tbc" --sync leads --now 2026-06-01T00:00:00Z --record "$LEAD"
contains "eval a create" "$TMP/out" 'tag ac "created-from-salesforce-lead"'
expect "eval needs --sync when several fit" 1 "$T" eval rules/activecampaign-salesforce.sync --record "$LEAD"
contains "eval needs --sync when several fit" "$TMP/err" "name one with --sync"
printf '%s' '{"id":"7","email":"ann@x.io","lastName":"Li"}' >"$TMP/ac.json"
expect "eval a pair, record from a file" 0 "$T" eval rules/activecampaign-salesforce.sync --sync leads --record "$LEAD" --record "ac=@$TMP/ac.json" --base '{"sf":{"LastName":"Li"},"ac":{"lastName":"Li"}}'
contains "eval a pair, record from a file" "$TMP/out" 'set ac.lastName = "Lee" (was "Li")'
expect "eval a bad record" 1 "$T" eval rules/activecampaign-salesforce.sync --sync leads --record 'sf={"Email": '
contains "eval a bad record" "$TMP/err" "not valid JSON"
expect "eval without records" 2 "$T" eval rules/activecampaign-salesforce.sync
# A string of any length builds: a 70 KB literal in one sync does not push
# the list and automation names a later one's instructions carry (by
# their place in the string table, in 16 bits) out of reach.
python3 - "$TMP" "$HEAD" <<'PY'
import sys
d, head = sys.argv[1], sys.argv[2]
def rules(name, first_list):
    with open("%s/%s.sync" % (d, name), "w") as f:
        f.write(head + "\ninitial sync on\n")
        f.write('sync first: sf.Lead -> ac.contact {\n    match Email = email\n    use defaults\n')
        f.write('    skip when FirstName == "%s"\n' % ("x" * 70000))
        f.write('    on create in ac: add to list "%s"\n}\n' % first_list)
        f.write('sync people: sf.Contact -> ac.contact {\n    match Email = email\n    use defaults\n')
        f.write('    on create in ac: add to list "Salesforce contacts", start automation "Welcome"\n}\n')
rules("literal", "Leads")
rules("names", "y" * 70000)
PY
expect "a 70 KB literal checks" 0 "$T" check "$TMP/literal.sync"
expect "a 70 KB literal builds" 0 "$T" build "$TMP/literal.sync" -o "$TMP/literal.tbc"
expect "a 70 KB literal runs" 0 "$T" eval "$TMP/literal.tbc" --sync people --now 2026-06-01T00:00:00Z --record 'sf={"Id":"003","LastName":"Lee","Email":"a@x.io"}'
contains "a 70 KB literal runs" "$TMP/out" 'add to ac list "Salesforce contacts"'
contains "a 70 KB literal runs" "$TMP/out" 'start ac automation "Welcome"'
# Only names of lists and automations past 64 KB together stay out of
# reach: said where, as any error.
expect "64 KB of list names" 1 "$T" build "$TMP/names.sync" -o "$TMP/names.tbc"
contains "64 KB of list names" "$TMP/err" "names.sync:14:22: error: list and automation names"
for c in build explain eval; do
    expect "$c --help" 0 "$T" "$c" --help
    contains "$c --help" "$TMP/out" "usage: tandem $c"
done

# plan, run, status over recorded answers
mkdir -p "$TMP/replay/sf" "$TMP/replay/ac"
cat >"$TMP/replay/sf/Lead.json" <<'EOF'
{"totalSize": 1, "done": true, "records": [{"attributes": {"type": "Lead"}, "Id": "00Q1", "FirstName": "Ann", "LastName": "Lee", "Company": "Acme", "Email": "ann@acme.example", "SystemModstamp": "2026-11-01T09:00:00.000+0000"}]}
EOF
echo '{"contacts": [], "meta": {"total": "0"}}' >"$TMP/replay/ac/contact.json"
printf '%s\ninitial sync on\nsync leads: sf.Lead -> ac.contact {\n    match Email = email\n    use defaults\n}\n' "$HEAD" >"$TMP/one.sync"
S="--state $TMP/st/one.db"
# live sources need their settings' variables: named, never guessed
expect "plan without answers" 1 "$T" plan "$TMP/one.sync"
contains "plan without answers" "$TMP/err" "needs the environment variable"
expect "record and replay" 1 "$T" plan "$TMP/one.sync" --replay "$TMP/replay" --record "$TMP/rec"
contains "record and replay" "$TMP/err" "cannot go with --replay"
expect "plan with changes pending" 2 "$T" plan "$TMP/one.sync" --replay "$TMP/replay" $S --at 2026-11-02T10:00:00Z
contains "plan with changes pending" "$TMP/out" '+ create ac.contact "ann@acme.example" from sf 00Q1'
if [ ! -e "$TMP/st/one.db" ]; then ok; else bad "plan wrote a state file"; fi
expect "plan --json" 2 "$T" plan "$TMP/one.sync" --replay "$TMP/replay" $S --json --at 2026-11-02T10:00:00Z
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["summary"]["creates"] == 1' "$TMP/out"; then ok; else bad "plan --json is not the documented JSON"; fi
expect "plan usage error" 1 "$T" plan --bogus
expect "status before any run" 1 "$T" status "$TMP/one.sync" $S
expect "run" 0 "$T" run "$TMP/one.sync" --replay "$TMP/replay" $S --outbox "$TMP/outbox" --at 2026-11-02T10:00:00Z
contains "run" "$TMP/out" "Applied 1 change."
contains "run wrote its request" "$TMP/outbox/ac/requests.jsonl" '"path":"/contact/sync"'
if [ "$(stat -c %a "$TMP/st/one.db")" = 600 ]; then ok; else bad "state file mode is not 0600"; fi
expect "plan after the run: nothing to do" 0 "$T" plan "$TMP/one.sync" --replay "$TMP/replay" $S --outbox "$TMP/outbox" --at 2026-11-02T11:00:00Z
expect "status" 0 "$T" status "$TMP/one.sync" $S
contains "status" "$TMP/out" "leads: last run 2026-11-02T10:00:00Z"
expect "status --json" 0 "$T" status "$TMP/one.sync" $S --json
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["syncs"][0]["links"] == 1' "$TMP/out"; then ok; else bad "status --json"; fi
echo '{"totalSize": 1, "done": true, "records": [{"Id": "00Q2", "AnnualRevenue": "lots", "SystemModstamp": "2026-11-02T10:30:00Z"}]}' >"$TMP/replay/sf/Lead.json"
expect "a record that does not read is an error" 1 "$T" run "$TMP/one.sync" --replay "$TMP/replay" $S --outbox "$TMP/outbox" --at 2026-11-02T12:00:00Z
contains "a record that does not read is an error" "$TMP/out" "! error sf.Lead 00Q2: field AnnualRevenue: expected a number"
# every record in error, whichever run found it, until it syncs (B31)
expect "status lists the record in error" 1 "$T" status "$TMP/one.sync" $S
contains "status lists the record in error" "$TMP/out" "leads: Lead 00Q2 since 2026-11-02T12:00:00Z: field AnnualRevenue: expected a number"
expect "status --json lists every record in error" 1 "$T" status "$TMP/one.sync" $S --json
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [e["id"] for e in d["record_errors"]] == ["00Q2"]' "$TMP/out"; then ok; else bad "status --json record_errors"; fi
expect "status --since later" 1 "$T" status "$TMP/one.sync" $S --since 2026-11-02T12:00:01Z
if python3 -c 'import sys; t=open(sys.argv[1]).read(); assert "records in error since 2026-11-02T12:00:01Z:\n  none\n" in t' "$TMP/out"; then ok; else bad "status --since: a record in error before it is listed"; fi
expect "status --page 0" 2 "$T" status "$TMP/one.sync" $S --page 0
echo '{"totalSize": 1, "done": tru' >"$TMP/replay/sf/Lead.json"
expect "a broken answer" 1 "$T" run "$TMP/one.sync" --replay "$TMP/replay" $S --outbox "$TMP/outbox" --at 2026-11-02T13:00:00Z
contains "a broken answer" "$TMP/err" "Lead.json:1: not valid JSON"
# An answer that cannot be opened is an error naming it, whether the
# object is read for its changes or looked up (a sync the other way).
mkdir -p "$TMP/dirans/sf/Lead.json" "$TMP/dirans/ac"
echo '{"contacts": [{"id": "7", "email": "ann@acme.example", "udate": "2026-11-01T09:00:00-05:00"}], "meta": {"total": "1"}}' >"$TMP/dirans/ac/contact.json"
printf '%s\ninitial sync on\nsync back: ac.contact -> sf.Lead {\n    match email = Email\n    map email -> Email\n    new in sf never\n}\n' "$HEAD" >"$TMP/back.sync"
for r in one back; do
    expect "an answer that is a directory ($r)" 1 "$T" plan "$TMP/$r.sync" --replay "$TMP/dirans" --state "$TMP/st/dir.db" --at 2026-11-02T10:00:00Z
    contains "an answer that is a directory ($r)" "$TMP/err" "dirans/sf/Lead.json: not a regular file"
done
# Nor is anything else that is not a regular file taken for one, or for a
# missing file (no records): a FIFO would block the open for good, a
# symlink loop is there.  Each is an error naming it, found at once.
for what in sf/Lead.json sf/Lead.deleted.json sf/Lead/1.json sf/Lead ac/tags.json outbox/ac/effects.jsonl outbox/ac/requests.jsonl; do
    for kind in fifo loop; do
        O="$TMP/odd"
        rm -rf "$O"
        mkdir -p "$O/sf" "$O/ac" "$O/outbox/ac"
        echo '{"contacts": [], "meta": {"total": "0"}}' >"$O/ac/contact.json"
        case $what in
        sf/Lead/*) mkdir "$O/sf/Lead" ;;
        sf/Lead | sf/Lead.json) ;;
        *) echo '{"totalSize": 1, "done": true, "records": [{"Id": "00Q1", "LastName": "Lee", "Company": "Acme", "Email": "ann@acme.example", "SystemModstamp": "2026-11-01T09:00:00Z"}]}' >"$O/sf/Lead.json" ;;
        esac
        if [ $kind = fifo ]; then mkfifo "$O/$what"; else ln -s "$(basename "$what")" "$O/$what"; fi
        expect "$what as a $kind" 1 timeout 10 "$T" run "$TMP/one.sync" --replay "$O" --outbox "$O/outbox" --state "$O/st.db" --at 2026-11-02T10:00:00Z
        contains "$what as a $kind" "$TMP/err" "odd/$what: "
        [ $kind = fifo ] || contains "$what as a $kind" "$TMP/err" "symbolic links"
    done
done
# The outbox outlives a run cut short.  A last line torn mid-write (a kill,
# a full disk) is passed over, and the next append starts on a line of
# its own; an append that fails part-way leaves the file as it was.
W="$TMP/torn"
mkdir -p "$W/replay/sf" "$W/replay/ac"
lead() { # ID EMAIL CHANGED
    printf '{"attributes": {"type": "Lead"}, "Id": "%s", "LastName": "Lee", "Company": "Acme", "Email": "%s", "SystemModstamp": "%s"}' "$1" "$2" "$3"
}
echo '{"contacts": [], "meta": {"total": "0"}}' >"$W/replay/ac/contact.json"
echo "{\"totalSize\": 1, \"done\": true, \"records\": [$(lead 00Q1 a@x.example 2026-11-01T09:00:00Z)]}" >"$W/replay/sf/Lead.json"
WR="$TMP/one.sync --replay $W/replay --outbox $W/outbox --state $W/st.db"
expect "torn outbox: a first run" 0 "$T" run $WR --at 2026-11-02T10:00:00Z
cp "$W/outbox/ac/effects.jsonl" "$W/whole"
printf '{"at":1793527200000,"action":"create","obj' >>"$W/outbox/ac/effects.jsonl"
printf '{"at":1793527200000,"method":"POST","pa' >>"$W/outbox/ac/requests.jsonl"
expect "torn outbox: a plan reads it" 0 "$T" plan $WR --at 2026-11-02T11:00:00Z
contains "torn outbox: a plan reads it" "$TMP/out" "nothing to do"
echo "{\"totalSize\": 2, \"done\": true, \"records\": [$(lead 00Q1 a@x.example 2026-11-01T09:00:00Z), $(lead 00Q2 b@x.example 2026-11-02T11:30:00Z)]}" >"$W/replay/sf/Lead.json"
expect "torn outbox: a run appends" 0 "$T" run $WR --at 2026-11-02T12:00:00Z
contains "torn outbox: a run appends" "$TMP/out" "Applied 1 change."
for f in effects requests; do
    if python3 -c 'import json,sys; t=open(sys.argv[1]).read(); assert t.endswith("\n"); [json.loads(l) for l in t.splitlines()]' "$W/outbox/ac/$f.jsonl"; then ok; else bad "torn outbox: $f.jsonl is whole lines after the append"; cat "$W/outbox/ac/$f.jsonl"; fi
done
if [ "$(head -c "$(wc -c <"$W/whole")" "$W/outbox/ac/effects.jsonl")" = "$(cat "$W/whole")" ] && grep -q b@x.example "$W/outbox/ac/effects.jsonl"; then ok; else bad "torn outbox: the torn line is cut, the rest kept"; fi
# A write that runs out of room (a file size limit in place of a full
# disk): the effects file, larger than any other the run writes, is
# limited to a few bytes more than it has.
python3 - "$W/outbox/ac/effects.jsonl" <<'PY'
import sys
with open(sys.argv[1], "a") as f:
    for i in range(3000):  # lines of an object these rules do not use
        f.write('{"at":1793527200000,"action":"update","object":"deal","id":"pad-%d","fields":{"title":"padding"}}\n' % i)
PY
cp "$W/outbox/ac/effects.jsonl" "$W/before"
echo "{\"totalSize\": 3, \"done\": true, \"records\": [$(lead 00Q1 a@x.example 2026-11-01T09:00:00Z), $(lead 00Q2 b@x.example 2026-11-02T11:30:00Z), $(lead 00Q3 c@x.example 2026-11-02T12:30:00Z)]}" >"$W/replay/sf/Lead.json"
limit=$(($(wc -c <"$W/before") + 20))
expect "a full outbox" 1 python3 -c 'import os, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
os.execv(sys.argv[2], sys.argv[2:])' "$limit" "$T" run $WR --at 2026-11-02T13:00:00Z
contains "a full outbox" "$TMP/err" "effects.jsonl: File too large"
if cmp -s "$W/before" "$W/outbox/ac/effects.jsonl"; then ok; else bad "a failed append leaves the effects as they were"; tail -c 300 "$W/outbox/ac/effects.jsonl"; fi
expect "a full outbox: the next run" 2 "$T" plan $WR --at 2026-11-02T14:00:00Z
contains "a full outbox: the next run" "$TMP/out" '+ create ac.contact "c@x.example"'

# A plan is printed as it is decided, a sync's changes waiting in a
# temporary file until its header (what it read) can go first, and a run's
# as it applies each part: the text is the same whether it is held whole
# (no temporary directory) or flushed a record at a time, over two syncs.
mkdir -p "$TMP/two/sf" "$TMP/two/ac"
python3 - "$TMP/two" <<'PY'
import json, sys
d = sys.argv[1]
leads = [{"attributes": {"type": "Lead"}, "Id": "00Q%d" % i, "FirstName": "F%d" % i, "LastName": "L%d" % i,
          "Company": "C", "Email": "p%d@x.example" % i, "SystemModstamp": "2026-11-01T09:00:00.000+0000"} for i in range(7)]
contacts = [{"attributes": {"type": "Contact"}, "Id": "003%d" % i, "FirstName": "G%d" % i, "LastName": "M%d" % i,
             "Email": "c%d@x.example" % i, "SystemModstamp": "2026-11-01T09:00:00.000+0000"} for i in range(5)]
json.dump({"totalSize": 7, "done": True, "records": leads}, open(d + "/sf/Lead.json", "w"))
json.dump({"totalSize": 5, "done": True, "records": contacts}, open(d + "/sf/Contact.json", "w"))
json.dump({"contacts": [{"id": "9", "email": "p3@x.example", "firstName": "Old"}], "meta": {"total": "1"}}, open(d + "/ac/contact.json", "w"))
PY
printf '%s\ninitial sync on\nsync leads: sf.Lead -> ac.contact {\n    match Email = email\n    use defaults\n}\nsync people: sf.Contact -> ac.contact {\n    match Email = email\n    use defaults\n}\n' "$HEAD" >"$TMP/two.sync"
TWO="$TMP/two.sync --replay $TMP/two --at 2026-11-02T10:00:00Z"
TMPDIR=/nonexistent-dir "$T" plan $TWO --state "$TMP/st/p0.db" >"$TMP/held.txt" 2>/dev/null
TANDEM_STREAM_BATCH=1 "$T" plan $TWO --state "$TMP/st/p1.db" >"$TMP/streamed.txt" 2>/dev/null
if cmp -s "$TMP/held.txt" "$TMP/streamed.txt"; then ok; else bad "a streamed text plan differs from the held one"; diff "$TMP/held.txt" "$TMP/streamed.txt" | head -5; fi
contains "a streamed text plan" "$TMP/streamed.txt" "sync people: sf.Contact -> ac.contact  (read 5 and 1)"
TMPDIR=/nonexistent-dir "$T" run $TWO --state "$TMP/st/r0.db" --outbox "$TMP/ob0" >"$TMP/held.txt" 2>/dev/null
TANDEM_STREAM_BATCH=1 TANDEM_APPLY_PART=1 "$T" run $TWO --state "$TMP/st/r1.db" --outbox "$TMP/ob1" >"$TMP/streamed.txt" 2>/dev/null
if cmp -s "$TMP/held.txt" "$TMP/streamed.txt"; then ok; else bad "a run applied by parts prints what one part prints"; diff "$TMP/held.txt" "$TMP/streamed.txt" | head -5; fi
contains "a run applied by parts" "$TMP/streamed.txt" "Applied 12 changes."
if cmp -s "$TMP/ob0/ac/effects.jsonl" "$TMP/ob1/ac/effects.jsonl"; then ok; else bad "a run applied by parts writes what one part writes"; fi

# One run at a time: a run finds the state's lock held (here by flock(1),
# as a run in progress holds it), exits 75 at once and changes nothing;
# --wait=S gives up after S seconds; --wait waits for the holder.
cp "$TMP/st/one.db" "$TMP/st/before.db"
flock "$TMP/st/one.db.lock" sleep 3 &
holder=$!
sleep 0.5
echo '{"totalSize": 0, "done": true, "records": []}' >"$TMP/replay/sf/Lead.json"
expect "a second run" 75 "$T" run "$TMP/one.sync" --replay "$TMP/replay" $S --outbox "$TMP/outbox" --at 2026-11-02T14:00:00Z
contains "a second run" "$TMP/err" "one.db is in use by another run"
contains "a second run" "$TMP/err" "(--wait waits for it)"
empty "a second run prints no plan" "$TMP/out"
if [ "$(sqlite3 "$TMP/st/one.db" 'select count(*) from runs' 2>/dev/null || python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from runs").fetchone()[0])' "$TMP/st/one.db")" = 3 ]; then ok; else bad "a run that found the state locked recorded a run"; fi
expect "--wait=0.3 gives up" 75 "$T" run "$TMP/one.sync" --replay "$TMP/replay" $S --outbox "$TMP/outbox" --wait=0.3 --at 2026-11-02T14:00:00Z
contains "--wait=0.3 gives up" "$TMP/err" "gave up waiting"
expect "plan takes no lock" 0 "$T" plan "$TMP/one.sync" --replay "$TMP/replay" $S --outbox "$TMP/outbox" --at 2026-11-02T14:00:00Z
expect "--wait waits for the holder" 0 "$T" run "$TMP/one.sync" --replay "$TMP/replay" $S --outbox "$TMP/outbox" --wait --at 2026-11-02T14:00:00Z
if kill -0 "$holder" 2>/dev/null; then bad "--wait ran while the lock was held"; else ok; fi
wait "$holder" 2>/dev/null
expect "--wait=soon is a usage error" 2 "$T" run "$TMP/one.sync" --replay "$TMP/replay" $S --wait=soon

# The default state and outbox are beside the rule file: two rule files
# of one name in two directories keep two states, whichever directory
# tandem runs from.
mkdir -p "$TMP/a" "$TMP/b" "$TMP/elsewhere"
cp "$TMP/one.sync" "$TMP/a/same.sync"
cp "$TMP/two.sync" "$TMP/b/same.sync"
cp "$TMP/two/sf/Lead.json" "$TMP/replay/sf/Lead.json"
expect "a/same.sync runs" 0 "$T" run "$TMP/a/same.sync" --replay "$TMP/replay" --at 2026-11-02T10:00:00Z
expect "b/same.sync runs" 0 "$T" run "$TMP/b/same.sync" --replay "$TMP/two" --at 2026-11-02T10:00:00Z
if [ -f "$TMP/a/.tandem/same.db" ] && [ -f "$TMP/b/.tandem/same.db" ] && [ -f "$TMP/a/.tandem/same.outbox/ac/requests.jsonl" ]; then ok; else bad "the default state is not beside its rule file"; fi
(cd "$TMP/elsewhere" && "$OLDPWD/$T" status ../a/same.sync >"$TMP/out" 2>"$TMP/err")
contains "status from another directory finds the state" "$TMP/out" "7 linked"
(cd "$TMP/elsewhere" && "$OLDPWD/$T" status ../b/same.sync >"$TMP/out" 2>"$TMP/err")
contains "the other rule file of that name has its own" "$TMP/out" "leads: last run"
# A state left where older versions kept it (.tandem/<name>.db in the
# directory tandem ran from), whose runs were this rule file's, is named,
# not passed over for a new, empty one.
mkdir -p "$TMP/old/.tandem" "$TMP/old/rules"
cp "$TMP/one.sync" "$TMP/old/rules/legacy.sync"
(cd "$TMP/old" && "$OLDPWD/$T" run rules/legacy.sync --replay "$TMP/replay" --state .tandem/legacy.db --at 2026-11-02T10:00:00Z >/dev/null 2>&1)
(cd "$TMP/old" && "$OLDPWD/$T" run rules/legacy.sync --replay "$TMP/replay" --at 2026-11-02T11:00:00Z >"$TMP/out" 2>"$TMP/err"); got=$?
if [ "$got" -eq 1 ]; then ok; else bad "a legacy state: exit $got, want 1"; fi
contains "a legacy state is named" "$TMP/err" "the older one at .tandem/legacy.db is this file's"
if [ ! -e "$TMP/old/rules/.tandem/legacy.db" ]; then ok; else bad "a new state was made beside a legacy one"; fi

for c in plan run status test; do
    expect "$c --help" 0 "$T" "$c" --help
    contains "$c --help" "$TMP/out" "usage: tandem $c"
done

# install: the binary finds its stdlib relative to itself
if make -s install BUILD="$BUILD" PREFIX=/opt/tandem DESTDIR="$TMP/root" >"$TMP/out" 2>&1; then
    ok
    expect "installed binary checks a rule file" 0 "$TMP/root/opt/tandem/bin/tandem" check rules/activecampaign-salesforce.sync
    if [ -f "$TMP/root/opt/tandem/share/man/man1/tandem.1" ]; then ok; else bad "man page installed"; fi
else
    bad "make install"; cat "$TMP/out"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
