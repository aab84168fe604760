"""harness.py - what the live-connector tests share: the API emulator as a
child process, the environment a rule file's sources read, the shipped
rule files pointed at the emulator, and `tandem` itself.

Standard library only; the emulator is tests/emulator/emulator.py.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMULATOR = os.path.join(ROOT, "tests", "emulator", "emulator.py")

# The emulator's credentials: what a seed's "credentials" section holds.
CREDENTIALS = {
    "salesforce": {"client_id": "sf-client", "client_secret": "sf-secret-0xC0FFEE", "refresh_token": "sf-refresh-0xBEEF"},
    "dynamics365": {"tenant_id": "tenant-1", "client_id": "d365-client", "client_secret": "d365-secret-0xF00D"},
    "activecampaign": {"api_key": "ac-key-0xCAFE"},
    "getresponse": {"api_key": "gr-key-0xFACE"},
}
SECRETS = [v for s in CREDENTIALS.values() for k, v in s.items() if k != "tenant_id" and k != "client_id"]


class Emulator:
    def __init__(self, seed, tmp):
        seed = dict(seed)
        seed.setdefault("credentials", CREDENTIALS)
        self.tmp = tmp
        path = os.path.join(tmp, "seed.json")
        with open(path, "w") as f:
            json.dump(seed, f)
        port_file = os.path.join(tmp, "port")
        self.proc = subprocess.Popen([sys.executable, EMULATOR, "--seed", path, "--port-file", port_file, "--port", "0"],
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "emulator.log"), "w"))
        deadline = time.time() + 20
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("the emulator did not start: " + open(os.path.join(tmp, "emulator.log")).read())
            time.sleep(0.05)
        self.port = int(open(port_file).read().strip())
        self.base = "http://127.0.0.1:%d" % self.port

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
        return json.loads(text) if text.strip() else None

    def state(self):
        return self.call("GET", "/__state")

    def log(self):
        return self.call("GET", "/__log")

    def clear_log(self):
        self.call("POST", "/__log/clear", {})

    def fault(self, **kw):
        self.call("POST", "/__fault", kw)

    def touch(self, system, obj, id, fields):
        self.call("POST", "/__touch", {"system": system, "object": obj, "id": id, "fields": fields})

    def stop(self):
        try:
            self.call("POST", "/__shutdown", {})
        except Exception:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def env(self):
        """What the shipped rule files' env() and secret() read."""
        c = CREDENTIALS
        return {
            "SF_INSTANCE_URL": self.base + "/sf",
            "SF_CLIENT_ID": c["salesforce"]["client_id"],
            "SF_CLIENT_SECRET": c["salesforce"]["client_secret"],
            "SF_REFRESH_TOKEN": c["salesforce"]["refresh_token"],
            "D365_URL": self.base + "/d365",
            "D365_LOGIN_URL": self.base + "/d365/login",
            "D365_TENANT_ID": c["dynamics365"]["tenant_id"],
            "D365_CLIENT_ID": c["dynamics365"]["client_id"],
            "D365_CLIENT_SECRET": c["dynamics365"]["client_secret"],
            "AC_API_URL": self.base + "/ac",
            "AC_API_KEY": c["activecampaign"]["api_key"],
            "GR_API_URL": self.base + "/gr/v3",
            "GR_API_KEY": c["getresponse"]["api_key"],
        }


def shipped_rules(name, tmp):
    """A shipped rule file, with the two settings whose defaults are the
    vendors' hosts (GetResponse's API URL, Microsoft's login) pointed at
    the emulator; everything else as shipped."""
    text = open(os.path.join(ROOT, "rules", name + ".sync")).read()
    text = text.replace('api_key = secret("GR_API_KEY")', 'api_key = secret("GR_API_KEY")\n    url = env("GR_API_URL")')
    text = text.replace('client_secret = secret("D365_CLIENT_SECRET"))',
                        'client_secret = secret("D365_CLIENT_SECRET"), login_url = env("D365_LOGIN_URL"))')
    path = os.path.join(tmp, name + ".sync")
    with open(path, "w") as f:
        f.write(text)
    return path


def write_rules(tmp, name, text):
    path = os.path.join(tmp, name + ".sync")
    with open(path, "w") as f:
        f.write(text)
    return path


def tandem(build, args, env_extra, timeout=600):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SF_", "AC_", "GR_", "D365_", "TANDEM_"))}
    env["TANDEM_STDLIB"] = os.path.join(ROOT, "stdlib")
    env.update(env_extra)
    p = subprocess.run([os.path.join(ROOT, build, "tandem")] + args, env=env, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def tandem_start(build, args, env_extra):
    """tandem in the background (a run to overlap with another)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SF_", "AC_", "GR_", "D365_", "TANDEM_"))}
    env["TANDEM_STDLIB"] = os.path.join(ROOT, "stdlib")
    env.update(env_extra)
    return subprocess.Popen([os.path.join(ROOT, build, "tandem")] + args, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _load(path):
    with open(path) as f:
        return json.load(f)


def seed_add(seed, src, fn, a):
    """Adds one recorded answer (replay layout: source sf, file Lead.json,
    its parsed JSON) to an emulator seed; False for a source the emulator
    does not serve."""
    obj = fn[:-5]
    if src == "sf":
        rows = [{k: v for k, v in r.items() if k != "attributes"} for r in a.get("records", [])]
        seed.setdefault("salesforce", {}).setdefault(obj, []).extend(rows)
    elif src == "d365":
        rows = [{k: v for k, v in r.items() if not k.startswith("@")} for r in a.get("value", [])]
        seed.setdefault("dynamics365", {}).setdefault(obj + "s", []).extend(rows)
    elif src == "ac":
        ac = seed.setdefault("activecampaign", {})
        for k, v in a.items():
            if isinstance(v, list):
                ac.setdefault(k, []).extend(v)
    elif src == "gr":
        seed.setdefault("getresponse", {})["contacts" if obj == "contact" else obj] = a
    else:
        return False
    return True


def seed_from_examples(name):
    """The recorded answers of examples/<name>/ as an emulator seed: the
    same records the README tour replays, served live."""
    d = os.path.join(ROOT, "examples", name)
    seed = {}
    for src in sorted(os.listdir(d)):
        sd = os.path.join(d, src)
        for fn in sorted(os.listdir(sd)):
            seed_add(seed, src, fn, _load(os.path.join(sd, fn)))
    return seed


class Skip(Exception):
    """A test that cannot run here (what it needs is absent): "skip: NAME:
    why", counted in neither total."""


class Tests:
    """Runs test functions, printing "ok NAME", "skip: NAME: why" or "FAIL
    NAME: why", and the closing "N passed, N failed" line tests/run.sh
    reads."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, fn, *args):
        tmp = tempfile.mkdtemp(prefix="tandem-live-")
        t0 = time.time()
        try:
            fn(tmp, *args)
            self.passed += 1
            print("ok %s (%.1f s)" % (fn.__name__, time.time() - t0), flush=True)
            shutil.rmtree(tmp, ignore_errors=True)
        except Skip as e:
            print("skip: %s: %s" % (fn.__name__, e), flush=True)
            shutil.rmtree(tmp, ignore_errors=True)
        except Exception as e:  # a failed assertion or a broken run: both fail the test
            self.failed += 1
            print("FAIL %s: %s: %s (kept %s)" % (fn.__name__, type(e).__name__, e, tmp), flush=True)

    def summary(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def no_secrets(*texts):
    for t in texts:
        for s in SECRETS:
            check(s not in t, "a credential was printed or stored")


def file_text(path):
    with open(path, "rb") as f:
        return f.read().decode("latin-1")
