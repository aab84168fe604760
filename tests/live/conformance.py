#!/usr/bin/env python3
"""conformance.py - are the ActiveCampaign and GetResponse requests tandem
sends what the vendors' OpenAPI descriptions allow?

    python3 tests/live/conformance.py [BUILD_DIR]      (default: build)

The descriptions are the public ones in ../shared/apispecs/ (beside the
repository).  Each request tandem sends goes

    tandem -> recorder (this process) -> prism proxy -> emulator

where prism (npm @stoplight/prism-cli, installed once into
BUILD_DIR/prism) checks it against the description and forwards it to
tests/emulator/emulator.py for a real answer.  The shipped rule files run
against the emulator seeded with the shipped examples, with enough records
changed that tandem both reads and writes; Salesforce is reached directly.

A violation in a request fails the test, listed as method, path and the
description's complaint.  Violations in the answers are notes only: the
emulator is not the vendor.  Without npm or ../shared the test skips, and
says so, with "0 passed, 0 failed".

How prism is used, and why (prism 5.14, found by experiment):
  - prism matches a request's path against the operations' paths alone,
    ignoring the path of the description's `servers` URL (/api/3 for
    ActiveCampaign, /v3 for GetResponse): it knows /contacts, not
    /api/3/contacts.  The recorder takes that base path off what tandem
    sends, and prism's upstream is the emulator's URL with it put back
    (http://127.0.0.1:EMU/ac/api/3, http://127.0.0.1:EMU/gr/v3).
  - prism runs without --errors: with it, an answer that breaks the
    description (most of the emulator's do, in small ways) is replaced by
    a 500, and tandem's run breaks on a test artefact.  Without it prism
    forwards everything and lists each violation, of the request and of
    the answer, in an `sl-violations` header of its answer, which the
    recorder reads, so every violation is tied to the request that made
    it.  Prism's log is kept as well, and its "Violation: request" lines
    are counted against what the headers said.
  - prism does not check query parameters whose names hold brackets
    (`filters[updated_after]`, `orders[id]`, `query[email]`): it parses
    them into nested objects and then finds no value for the declared
    name.  This test checks those itself, against the declared schema
    (type, enum, date and date-time formats).  Parameters a description
    does not declare are not checked, as prism does not check them
    (OpenAPI allows them; ActiveCampaign's description leaves out limit,
    offset and include on most list operations).
  - A request prism finds no operation for ("Selected route not found"):
    a failure for ActiveCampaign, whose description covers the whole
    API; a note for GetResponse, whose description is a documented subset
    (campaigns, custom-fields, contacts; no contact update, tags or
    delete).

What the descriptions get wrong, worked around here (each change is
printed as a note):
  - GetResponse's declares a required `X-Request-Source` header on every
    operation.  It identifies the traffic of the agent skill the
    description was written for (its api-guide: "Agents using this skill
    must always include this header"); it is not part of the API tandem
    uses, so the copy given to prism has it optional.
  - ActiveCampaign's lists in `required` properties whose own description
    makes them conditional (POST /deals: account "Required if
    `deal.contact` is not provided", and contact, group, stage, owner;
    three of POST /ecomOrders): JSON Schema cannot say "if", so the copy
    given to prism leaves such properties out of `required`.
  - Where a request breaks the schema exactly as the description itself
    does - its own request example for the operation sends the same JSON
    type at that place (ActiveCampaign's contactTag ids: integer in the
    schema, strings in the example), or leaves out the same required
    property, or a query value equals the parameter's own default that
    is outside its enum (orders[id]: enum desc, asc; default "ASC") -
    the description contradicts itself, and the request is a note saying
    so, not a failure.
"""
import collections
import copy
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ROOT = harness.ROOT
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))
APISPECS = os.path.join(SHARED, "apispecs")
PRISM_PACKAGE = "@stoplight/prism-cli@5"

# The two systems, as tandem's settings and the emulator name them.
SYSTEMS = {
    "activecampaign": {
        "label": "ActiveCampaign",
        "spec": os.path.join("activecampaign", "activecampaign-v3.json"),
        "prefix": "/ac",        # the emulator's
        "env": "AC_API_URL",    # the account URL: tandem adds /api/3
        "subset": False,
    },
    "getresponse": {
        "label": "GetResponse",
        "spec": os.path.join("getresponse", "getresponse-skill-openapi.json"),
        "prefix": "/gr",
        "env": "GR_API_URL",    # the API URL, /v3 included
        "subset": True,
    },
}


Skip = harness.Skip   # what is absent here (npm, ../shared, prism) skips


# ------------------------------------------------------------ prism

def prism_bin(build):
    return os.path.join(ROOT, build, "prism", "node_modules", ".bin", "prism")


def prism_version(exe):
    try:
        p = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout.strip() if p.returncode == 0 and p.stdout.strip() else None


def install_prism(build):
    """Prism from npm into BUILD/prism, once; its version, or Skip."""
    exe = prism_bin(build)
    if os.path.exists(exe):
        v = prism_version(exe)
        if v:
            return v, None
    npm = shutil.which("npm")
    if not npm:
        raise Skip("npm is not on PATH, so prism (%s) cannot be installed" % PRISM_PACKAGE)
    d = os.path.join(ROOT, build, "prism")
    os.makedirs(d, exist_ok=True)
    log = os.path.join(d, "install.log")
    t0 = time.time()
    try:
        with open(log, "w") as f:
            p = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", d, PRISM_PACKAGE],
                               stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=600)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        rc = "timed out after 600 s"
    v = prism_version(exe) if rc == 0 else None
    if not v:
        lines = open(log, errors="replace").read().strip().splitlines()
        why = ([x for x in lines if x.startswith("npm error code")][:1] +
               [x for x in lines if x.startswith("npm error ") and "Error" in x[10:] and not x.startswith("npm error  ")][:1])
        why = why or lines[-3:]
        raise Skip("npm could not install %s (exit %s; %s): %s" % (PRISM_PACKAGE, rc, log, " | ".join(why)))
    return v, time.time() - t0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Prism:
    def __init__(self, build, spec_path, upstream, tmp, name):
        self.log_path = os.path.join(tmp, "prism-%s.log" % name)
        self.port = free_port()
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen([prism_bin(build), "proxy", spec_path, upstream, "--port", str(self.port),
                                      "--host", "127.0.0.1", "--cors", "false"],
                                     stdout=self.log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + 90
        while "Prism is listening" not in self.log():
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("prism did not start for %s: %s" % (name, self.log()[-2000:]))
            time.sleep(0.1)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def request_violation_lines(self):
        return [line.strip() for line in self.log().splitlines() if "Violation: request" in line]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


# ------------------------------------------------------------ recorder

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
       "expect", "host", "content-length"}


class Recorder:
    """An HTTP server tandem talks to in place of a vendor: records each
    request, takes the description's base path off it, sends it through
    prism and hands prism's answer back without prism's own headers."""

    def __init__(self, base_path, prism_port):
        self.base_path = base_path
        self.prism_port = prism_port
        self.records = []
        self.lock = threading.Lock()
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_one(self):
                rec.forward(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_one

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def forward(self, h):
        n = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(n) if n else b""
        path = urllib.parse.urlsplit(h.path).path
        r = {"method": h.command, "path": h.path, "body": body, "status": None, "violations": [],
             "outside": False, "prism_error": None}
        if path == self.base_path or path.startswith(self.base_path + "/"):
            inner = h.path[len(self.base_path):] or "/"
        else:
            inner = h.path
            r["outside"] = True
        headers = {k: v for k, v in h.headers.items() if k.lower() not in HOP}
        status, out_headers, data = 502, [("Content-Type", "text/plain")], b"recorder: prism did not answer"
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.prism_port, timeout=120)
            c.request(h.command, inner, body=body if body or h.command in ("POST", "PUT", "PATCH") else None,
                      headers=headers)
            resp = c.getresponse()
            data = resp.read()
            status = resp.status
            out_headers = resp.getheaders()
            c.close()
            v = resp.getheader("sl-violations")
            if v:
                try:
                    r["violations"] = json.loads(v)
                except ValueError:
                    r["violations"] = [{"location": ["request"], "severity": "Error",
                                        "message": "unreadable sl-violations header: " + v}]
            ctype = resp.getheader("Content-Type") or ""
            if "problem+json" in ctype and b"stoplight.io/prism/errors" in data:
                r["prism_error"] = data.decode("utf-8", "replace")
        except OSError as e:
            r["prism_error"] = "no answer from prism: %s" % e
        r["status"] = status
        with self.lock:
            self.records.append(r)
        h.send_response_only(status)
        for k, v in out_headers:
            lk = k.lower()
            if lk in HOP or lk in ("sl-violations", "date", "server") or lk.startswith("access-control-"):
                continue
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------ the descriptions

def load_spec(system):
    with open(os.path.join(APISPECS, SYSTEMS[system]["spec"])) as f:
        return json.load(f)


# a sentence ("." then a space ends one) saying when a property is required
CONDITIONAL = re.compile(r"(?:[^.]|\.(?=\S))*\bRequired (?:if|only|when|unless)\b(?:[^.]|\.(?=\S))*", re.I)
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def spec_place(trail):
    """Where in a description a list of keys leads, for people."""
    if trail[:1] == ["paths"] and len(trail) > 1:
        head = "%s %s" % (trail[2].upper(), trail[1]) if len(trail) > 2 and trail[2] in METHODS else trail[1]
    else:
        head = "/".join(trail[:3])
    props = [trail[i + 1] for i, k in enumerate(trail[:-1]) if k == "properties"]
    return head + (" " + ".".join(props) if props else "")


def prepared_spec(system, spec, tmp):
    """The description prism gets, written to tmp: as published, but for
    the workarounds the module's docstring lists.  Returns its path and
    what was changed."""
    spec = copy.deepcopy(spec)
    changed = []

    def walk(o, trail):
        if isinstance(o, dict):
            if o.get("in") == "header" and str(o.get("name", "")).lower() == "x-request-source" and o.get("required"):
                o["required"] = False
                changed.append("%s: header X-Request-Source made optional" % spec_place(trail))
            req, props = o.get("required"), o.get("properties")
            if isinstance(req, list) and isinstance(props, dict):
                for name in list(req):
                    desc = props[name].get("description") if isinstance(props.get(name), dict) else None
                    m = CONDITIONAL.search(desc) if isinstance(desc, str) else None
                    if m:
                        req.remove(name)
                        changed.append("%s.%s made optional: its description says \"%s\""
                                       % (spec_place(trail), name, m.group(0).strip()))
            for k, v in o.items():
                walk(v, trail + [k])
        elif isinstance(o, list):
            for i, v in enumerate(o):
                walk(v, trail + [str(i)])

    walk(spec, [])
    path = os.path.join(tmp, "%s-openapi.json" % system)
    with open(path, "w") as f:
        json.dump(spec, f)
    return path, changed


def base_path(spec):
    url = (spec.get("servers") or [{"url": "/"}])[0]["url"]
    return urllib.parse.urlsplit(re.sub(r"\{[^}]*\}", "x", url)).path.rstrip("/")


class Operations:
    """Finds the operation of a request, as prism does, for reporting and
    for the checks prism leaves out."""

    def __init__(self, spec):
        self.spec = spec
        rows = []
        for tpl, item in spec.get("paths", {}).items():
            rx = "^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(tpl)) + "$"
            rows.append((tpl.count("{"), tpl, re.compile(rx), item))
        rows.sort(key=lambda r: r[0])   # a literal segment wins over a parameter
        self.rows = rows

    def find(self, method, path):
        for _, tpl, rx, item in self.rows:
            if rx.match(path) and method.lower() in item:
                return tpl, item, item[method.lower()]
        for _, tpl, rx, item in self.rows:
            if rx.match(path):
                return tpl, item, None
        return None, None, None

    def resolve(self, o):
        seen = 0
        while isinstance(o, dict) and "$ref" in o and seen < 20:
            cur = self.spec
            for part in o["$ref"].lstrip("#/").split("/"):
                cur = cur.get(part.replace("~1", "/").replace("~0", "~"), {})
            o, seen = cur, seen + 1
        return o

    def parameters(self, item, op):
        out = {}
        for p in (item.get("parameters") or []) + (op.get("parameters") or []):
            p = self.resolve(p)
            if isinstance(p, dict) and "name" in p:
                out[(p.get("in"), p["name"])] = p
        return out

    def examples(self, op):
        """The request examples of an operation, as (name, value)."""
        out = []
        for media in ((self.resolve(op.get("requestBody") or {})).get("content") or {}).values():
            if "example" in media:
                out.append(("example", media["example"]))
            for name, ex in (media.get("examples") or {}).items():
                ex = self.resolve(ex)
                if isinstance(ex, dict) and "value" in ex:
                    out.append((name, ex["value"]))
        return out


DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.I)


def check_value(name, value, schema, ops):
    """What is wrong with one query value under its schema, or None
    (the subset of JSON Schema query parameters use); and, when the
    description itself breaks that rule the same way, saying so."""
    schema = ops.resolve(schema or {})
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t == "integer" and not re.match(r"^-?\d+$", value):
        return "Request query parameter %s must be integer" % name, None
    if t == "number" and not re.match(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$", value):
        return "Request query parameter %s must be number" % name, None
    if t == "boolean" and value not in ("true", "false"):
        return "Request query parameter %s must be boolean" % name, None
    if "enum" in schema:
        allowed = [str(x) for x in schema["enum"]]
        if value not in allowed:
            why = "Request query parameter %s must be equal to one of the allowed values: %s" % (name, ", ".join(allowed))
            if "default" in schema and value == str(schema["default"]):
                return why, "the description's own default for it is %s, outside its enum" % json.dumps(schema["default"])
            return why, None
    fmt = schema.get("format")
    if t in (None, "string") and fmt == "date" and not DATE.match(value):
        return 'Request query parameter %s must match format "date"' % name, None
    if t in (None, "string") and fmt == "date-time" and not DATETIME.match(value):
        return 'Request query parameter %s must match format "date-time"' % name, None
    return None, None


def json_at(doc, pointer):
    cur = doc
    for k in pointer:
        if isinstance(cur, dict) and k in cur:
            cur = cur[k]
        elif isinstance(cur, list) and k.isdigit() and int(k) < len(cur):
            cur = cur[int(k)]
        else:
            return KeyError
    return cur


def json_type(v):
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array",
            dict: "object", type(None): "null"}.get(type(v), "?")


# ------------------------------------------------------------ checking a run

class Findings:
    """Findings grouped by operation and complaint, each counted, with the
    first request that showed it."""

    def __init__(self):
        self.rows = collections.OrderedDict()

    def add(self, where, text, request=None, extra=""):
        row = self.rows.setdefault((where, text), {"n": 0, "request": request, "extra": extra})
        row["n"] += 1

    def lines(self):
        out = []
        for (where, text), row in self.rows.items():
            line = "%s: %s%s" % (where, text, row["extra"])
            eg = row["request"] if row["request"] and row["request"] != where else None
            if row["n"] > 1 or eg:
                line += " (%d request%s%s)" % (row["n"], "s" if row["n"] > 1 else "", ", e.g. " + eg if eg else "")
            out.append(line)
        return out


def explain_body(ops, op, body, v):
    """(what was sent where a body violation points, and, when the
    description's own request example does the same, saying so)."""
    loc = [str(x) for x in (v.get("location") or [])[2:]]
    sent = json_at(body, loc)
    if sent is KeyError:
        return "", None
    examples = ops.examples(op)
    m = re.search(r"must have required property '([^']+)'", v.get("message", ""))
    if m:
        same = [n for n, ex in examples if isinstance(json_at(ex, loc), dict) and m.group(1) not in json_at(ex, loc)]
        text = " (sent %s)" % ", ".join(sorted(sent)) if isinstance(sent, dict) else ""
        quirk = "the description's own example %s leaves it out too" % ", ".join(repr(n) for n in same)
        return text, quirk if same else None
    same = [n for n, ex in examples if json_at(ex, loc) is not KeyError and json_type(json_at(ex, loc)) == json_type(sent)]
    quirk = "the description's own example %s sends a %s there too" % (", ".join(repr(n) for n in same), json_type(sent))
    return " (sent %s)" % json.dumps(sent), quirk if same else None


QUIRK = "breaks the description's schema, as the description itself does, so not counted: "


def review(system, recorder, prism, ops, emu_log):
    """(failures, notes) of every request tandem sent one system, each a
    list of lines."""
    info = SYSTEMS[system]
    fails, notes, other = Findings(), Findings(), []
    request_violations = 0
    for r in recorder.records:
        shown = "%s %s" % (r["method"], r["path"])
        inner = r["path"][len(recorder.base_path):] if not r["outside"] else r["path"]
        inner_path = urllib.parse.unquote(urllib.parse.urlsplit(inner).path)
        tpl, item, op = ops.find(r["method"], inner_path)
        where = "%s %s" % (r["method"], inner_path if r["outside"] else recorder.base_path + (tpl or inner_path))
        if r["outside"]:
            fails.add(shown, "outside the API's base path %s" % recorder.base_path)
        if r["prism_error"]:
            fails.add(where, "prism answered itself instead of forwarding: %s" % r["prism_error"][:300], shown)
        try:
            body = json.loads(r["body"]) if r["body"] else None
        except ValueError:
            body = None
        for v in r["violations"]:
            loc = v.get("location") or []
            msg = v.get("message", "")
            if loc[:1] == ["response"]:
                notes.add(where, "the answer (status %s) breaks the description: %s" % (r["status"], msg), shown)
                continue
            request_violations += 1
            if msg == "Selected route not found":
                if info["subset"]:
                    notes.add(where, "not in the description's subset of the API, so not checked", shown)
                else:
                    fails.add(where, "no such operation in the description", shown)
                continue
            extra, quirk = "", None
            if loc[:2] == ["request", "body"] and body is not None and op is not None:
                extra, quirk = explain_body(ops, op, body, v)
            text = "%s [%s]" % (msg, ".".join(str(x) for x in loc))
            if quirk:
                notes.add(where, QUIRK + text, shown, extra + "; " + quirk)
            else:
                fails.add(where, text, shown, extra)
        # the query parameters prism does not check (their names hold brackets)
        if op is not None:
            declared = ops.parameters(item, op)
            query = urllib.parse.urlsplit(r["path"]).query
            for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
                p = declared.get(("query", name))
                if "[" in name and p is not None:
                    why, quirk = check_value(name, value, p.get("schema"), ops)
                    text = "%s [request.query; checked by this test: prism skips names with brackets]" % why
                    if why and quirk:
                        notes.add(where, QUIRK + text, shown, " (sent %s); %s" % (json.dumps(value), quirk))
                    elif why:
                        fails.add(where, text, shown, " (sent %s)" % json.dumps(value))
        if r["status"] and r["status"] >= 400:
            notes.add(where, "answered %s" % r["status"], shown)

    # prism's log against the headers: a request violation the log shows
    # and no header did would be one this test missed
    logged = prism.request_violation_lines()
    if len(logged) > request_violations:
        other.append("prism's log holds %d request violations, its answers' headers %d: %s"
                     % (len(logged), request_violations, " | ".join(logged[:10])))

    # every request that reached the emulator for this system came through prism
    def key(method, path):
        return method, urllib.parse.unquote(urllib.parse.urlsplit(path).path)

    sent = collections.Counter(key(r["method"], info["prefix"] + r["path"]) for r in recorder.records)
    served = collections.Counter(key(e["method"], e["path"]) for e in emu_log
                                 if e["path"].startswith(info["prefix"] + "/"))
    for (m, p), n in (served - sent).items():
        other.append("%s %s reached the emulator %d time(s) without passing prism" % (m, p, n))
    for (m, p), n in (sent - served).items():
        other.append("%s %s went to prism %d time(s) and never reached the emulator" % (m, p[len(info["prefix"]):], n))
    return fails.lines() + other, notes.lines()


class Setup:
    """The emulator, and for each system checked, prism and the recorder."""

    def __init__(self, build, tmp, seed, systems):
        self.emu = harness.Emulator(seed, tmp)
        self.parts = {}
        self.changed = {}
        try:
            emu_env = self.emu.env()
            self.env = dict(emu_env)
            for s in systems:
                spec = load_spec(s)
                bp = base_path(spec)
                path, changed = prepared_spec(s, spec, tmp)
                prism = Prism(build, path, self.emu.base + SYSTEMS[s]["prefix"] + bp, tmp, s)
                rec = Recorder(bp, prism.port)
                self.parts[s] = (prism, rec, Operations(spec))
                self.changed[s] = changed
                # what tandem is told: the emulator's URL for the system, with
                # the recorder's address in place of the emulator's and prefix
                tail = emu_env[SYSTEMS[s]["env"]][len(self.emu.base + SYSTEMS[s]["prefix"]):]
                self.env[SYSTEMS[s]["env"]] = "http://127.0.0.1:%d%s" % (rec.port, tail)
        except BaseException:
            self.stop()
            raise

    def review(self):
        log = self.emu.log()
        fails, notes, counts = [], [], {}
        for s, (prism, rec, ops) in self.parts.items():
            f, n = review(s, rec, prism, ops, log)
            fails += ["%s: %s" % (SYSTEMS[s]["label"], x) for x in f]
            notes += ["%s: %s" % (SYSTEMS[s]["label"], x) for x in n]
            notes += ["%s description as given to prism: %s" % (SYSTEMS[s]["label"], x) for x in self.changed[s]]
            counts[s] = collections.Counter(r["method"] for r in rec.records)
        return fails, notes, counts

    def stop(self):
        for prism, rec, _ in self.parts.values():
            rec.stop()
            prism.stop()
        self.emu.stop()


def run_tandem(build, rules, state, env, what):
    rc, out, err = harness.tandem(build, ["run", rules, "--now", "--state", state], env, timeout=300)
    harness.no_secrets(out, err)
    if "getresponse: not built" in out + err:
        raise Skip("tandem's GetResponse connector is not built yet (%s: %s)" % (what, (out + err).strip()[-300:]))
    harness.check(rc == 0, "%s: tandem exited %d:\n%s%s" % (what, rc, out[-3000:], err[-3000:]))
    return out


def finish(setup, name, must_write):
    fails, notes, counts = setup.review()
    if VERBOSE:
        for text in notes:
            print("note: %s" % text, flush=True)
    elif notes:
        print("%d notes on the descriptions and the emulator's answers (-v shows them)" % len(notes), flush=True)
    for s, c in counts.items():
        print("%s: %s requests through prism (%s)" % (SYSTEMS[s]["label"], sum(c.values()),
                                                     ", ".join("%s %d" % kv for kv in sorted(c.items()))), flush=True)
        harness.check(c.get("GET", 0) > 0, "%s: tandem read nothing from %s through prism" % (name, SYSTEMS[s]["label"]))
        if must_write:
            writes = sum(n for m, n in c.items() if m != "GET")
            harness.check(writes > 0, "%s: tandem wrote nothing to %s through prism" % (name, SYSTEMS[s]["label"]))
    harness.check(not fails, "%d violation(s):\n  %s" % (len(fails), "\n  ".join(fails)))


# ------------------------------------------------------------ the tests

def conformance_activecampaign(tmp, build):
    seed = harness.seed_from_examples("activecampaign-salesforce")
    setup = Setup(build, tmp, seed, ["activecampaign"])
    try:
        rules = harness.shipped_rules("activecampaign-salesforce", tmp)
        state = os.path.join(tmp, "state.db")
        # `initial sync off`: the first run reads, and marks where syncing starts
        run_tandem(build, rules, state, setup.env, "first run")
        # edits on both sides since then: a lead and a contact (with its
        # account) and an opportunity in Salesforce; contacts in ActiveCampaign
        setup.emu.touch("sf", "Lead", "00Q000000000001AAA", {"Region__c": "EMEA"})
        setup.emu.touch("sf", "Contact", "0031", {"ActiveCampaign_Sync_Status__c": "Waiting for next sync"})
        setup.emu.touch("sf", "Account", "0011", {"Website": "https://acme.example/home"})
        setup.emu.touch("sf", "Opportunity", "0061", {"Region__c": "EMEA"})
        setup.emu.touch("ac", "contacts", "12", {"lastName": "Case-Smith"})
        setup.emu.touch("ac", "contacts", "8", {"firstName": "Bobby"})
        run_tandem(build, rules, state, setup.env, "second run")
        # the records now linked, edited again: updates both ways, and the
        # automation a lead update starts
        setup.emu.touch("sf", "Lead", "00Q000000000001AAA", {"Region__c": "APAC", "AC_Automation__c": "nurture"})
        setup.emu.touch("ac", "contacts", "12", {"phone": "+44 20 5550999"})
        run_tandem(build, rules, state, setup.env, "third run")
        finish(setup, "activecampaign", True)
    finally:
        setup.stop()


def conformance_getresponse(tmp, build):
    seed = harness.seed_from_examples("getresponse-salesforce")
    setup = Setup(build, tmp, seed, ["getresponse"])
    try:
        rules = harness.shipped_rules("getresponse-salesforce", tmp)
        state = os.path.join(tmp, "state.db")
        # `initial sync on`: the first run pairs both sides and writes
        run_tandem(build, rules, state, setup.env, "first run")
        setup.emu.touch("sf", "Contact", "0031", {"Phone": "+49 30 5550199", "LastName": "Lee-Hart"})
        setup.emu.touch("sf", "Contact", "0033", {"MailingCountry": "Netherlands"})
        setup.emu.touch("gr", "contacts", "pDor", {"name": "Dora Maria Vale-Costa"})
        run_tandem(build, rules, state, setup.env, "second run")
        finish(setup, "getresponse", True)
    finally:
        setup.stop()


VERBOSE = "-v" in sys.argv[1:]


def main():
    args = [a for a in sys.argv[1:] if a != "-v"]
    build = args[0] if args else "build"
    t0 = time.time()
    try:
        if not os.path.isdir(APISPECS):
            raise Skip("no ../shared/apispecs beside the repository (%s)" % APISPECS)
        for s in SYSTEMS.values():
            if not os.path.exists(os.path.join(APISPECS, s["spec"])):
                raise Skip("no %s in ../shared/apispecs" % s["spec"])
        version, took = install_prism(build)
    except Skip as e:
        print("skip: %s" % e)
        print("0 passed, 0 failed")
        return 0
    print("prism %s%s" % (version, " (installed in %.0f s)" % took if took is not None else ""), flush=True)
    tests = harness.Tests()
    tests.run(conformance_activecampaign, build)
    tests.run(conformance_getresponse, build)
    print("conformance: %.0f s" % (time.time() - t0))
    return tests.summary()


if __name__ == "__main__":
    sys.exit(main())
