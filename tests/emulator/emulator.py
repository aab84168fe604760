#!/usr/bin/env python3
"""emulator.py - an HTTP emulator of the four APIs tandem's connectors talk
to, for the connector tests: Salesforce (/sf), Dynamics 365 (/d365),
ActiveCampaign (/ac) and GetResponse (/gr), on one port of 127.0.0.1.

    python3 tests/emulator/emulator.py --seed SEED.json --port-file FILE [--port 0] [--verbose]

State comes from the seed file and lives in memory; tests inspect and
steer it through the control endpoints under /__ (state, request log,
injected faults, edits and deletes "made in the system's own UI").  See
README.md beside this file, which is its specification.

Standard library only.  One lock guards all state, so every answer sees
one consistent state even though requests are served on threads (libcurl
keeps connections alive, one thread each).
"""
import argparse
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from emu_ac import ActiveCampaign          # noqa: E402
from emu_d365 import Dynamics               # noqa: E402
from emu_gr import GetResponse              # noqa: E402
from emu_sf import Salesforce               # noqa: E402
from emu_util import Reply, Request, deep, json_reply  # noqa: E402

SYSTEMS = {'sf': (Salesforce, 'salesforce'), 'd365': (Dynamics, 'dynamics365'),
           'ac': (ActiveCampaign, 'activecampaign'), 'gr': (GetResponse, 'getresponse')}
FAULT_KINDS = ('status', 'slow', 'malformed', 'partial', 'expire-token', 'limit')
MAX_BODY = 64 << 20


class Fault:
    def __init__(self, spec):
        self.system = spec['system']
        self.kind = spec['kind']
        self.method = spec.get('method', '').upper() or None
        self.path = re.compile(spec['path']) if spec.get('path') else None
        self.status = spec.get('status')
        self.retry_after = spec.get('retry_after')
        self.seconds = spec.get('seconds', 0)
        self.times = spec.get('times', 1)
        self.spec = spec

    def matches(self, system, req, batch):
        if system != self.system or (self.method and self.method != req.method):
            return False
        if self.path and not self.path.search(req.path):
            return False
        # a partial failure is something only a batch can have
        return batch if self.kind == 'partial' else True


class Emulator:
    def __init__(self, seed):
        if not isinstance(seed, dict):
            raise ValueError('the seed must be a JSON object')
        self.lock = threading.Lock()
        self.port = 0
        creds = seed.get('credentials') or {}
        self.systems = {}
        for prefix, (cls, name) in SYSTEMS.items():
            self.systems[prefix] = cls(self, seed.get(name) or {}, creds.get(name) or {})
        self.log = []
        self.seq = 0          # requests answered, never reset: each log entry's "n"
        self.faults = []

    @property
    def base_url(self):
        return 'http://127.0.0.1:%d' % self.port

    # ------------------------------------------------------------ dispatch

    def handle(self, method, raw_path, headers, body, arrival):
        """The answer to one request; never raises."""
        path, _, query = raw_path.partition('?')
        path = unquote(path)
        try:
            if path.startswith('/__'):
                with self.lock:
                    return self.control(method, path, body)
            prefix = path.split('/')[1] if path.count('/') >= 1 else ''
            system = self.systems.get(prefix)
            if system is None:
                with self.lock:
                    reply = json_reply(404, {'message': 'no emulated system under %s (use /sf, /d365, /ac, /gr)'
                                             % path})
                    self.record(method, path, query, body, reply, None)
                return reply
            # HEAD is answered as GET without the body (Handler.send leaves it out)
            req = Request('GET' if method == 'HEAD' else method, path[len(prefix) + 1:] or '/', query, headers,
                          body, full_path=path)
            req.arrival = arrival
            req.wire_method = method
            return self.serve(prefix, system, req)
        except Exception as e:   # a bug here must not take the server down
            traceback.print_exc()
            reply = json_reply(500, {'error': 'emulator internal error', 'detail': '%s: %s' % (type(e).__name__, e)})
            try:
                with self.lock:
                    self.record(method, path, query, body, reply, None)
            except Exception:
                pass
            return reply

    def serve(self, prefix, system, req):
        fault = None
        with self.lock:
            # a token that expires as this request arrives: it is the first refused
            if self.take_fault(prefix, system, req, kinds=('expire-token',)) is not None:
                system.expire_tokens()
            reply = system.authorize(req)
            if reply is None:
                fault = self.take_fault(prefix, system, req)
                if fault is not None:
                    reply = self.fault_reply(system, fault)
        if fault is not None and fault.kind == 'slow':
            time.sleep(fault.seconds)     # outside the lock: other requests go on
        with self.lock:
            if reply is None:
                try:
                    reply = system.handle(req, partial=fault is not None and fault.kind == 'partial')
                except Exception as e:
                    traceback.print_exc()
                    reply = json_reply(500, {'error': 'emulator internal error',
                                             'detail': '%s: %s' % (type(e).__name__, e)})
            if fault is not None:
                reply.fault = fault.kind
            system.decorate(reply)
            self.record(req.wire_method, req.full_path, req.query, req.body, reply, prefix)
        return reply

    def take_fault(self, prefix, system, req, kinds=None):
        """The first pending fault matching the request, used up by one
        (kinds: only faults of these kinds; by default every other kind
        than expire-token, which serve() takes before authorizing)."""
        batch = system.is_batch(req)
        for f in self.faults:
            if (f.kind not in kinds) if kinds else f.kind == 'expire-token':
                continue
            if f.matches(prefix, req, batch):
                f.times -= 1
                if f.times <= 0:
                    self.faults.remove(f)
                return f
        return None

    def fault_reply(self, system, fault):
        if fault.kind == 'status':
            reply = system.fault_reply(fault.status)
            if fault.retry_after is not None:
                reply.headers.append(('Retry-After', str(fault.retry_after)))
            return reply
        if fault.kind == 'limit':
            return system.fault_reply(403, 'limit')
        if fault.kind == 'malformed':
            return Reply(200, b'{"records": [', 'application/json')
        return None     # slow and partial answer through the system

    def record(self, method, path, query, body, reply, prefix):
        self.seq += 1
        entry = {'n': self.seq, 'system': prefix, 'method': method, 'path': path, 'query': query,
                 'status': reply.status}
        if method not in ('GET', 'HEAD'):
            entry['body_size'] = len(body or b'')
        if reply.fault:
            entry['fault'] = reply.fault
        self.log.append(entry)

    # ------------------------------------------------------------ control

    def control(self, method, path, body):
        def need(m):
            if method != m:
                raise ControlError(405, '%s takes %s' % (path, m))

        def parsed():
            try:
                b = json.loads(body.decode('utf-8') or '{}')
            except ValueError as e:
                raise ControlError(400, 'the body is not JSON: %s' % e)
            if not isinstance(b, dict):
                raise ControlError(400, 'the body must be a JSON object')
            return b

        try:
            if path == '/__state':
                need('GET')
                return json_reply(200, self.state())
            if path == '/__log':
                need('GET')
                return json_reply(200, self.log)
            if path == '/__log/clear':
                need('POST')
                self.log = []
                return json_reply(200, {'ok': True})
            if path == '/__fault':
                if method == 'GET':
                    return json_reply(200, [dict(f.spec, times=f.times) for f in self.faults])
                if method == 'DELETE':
                    self.faults = []
                    return json_reply(200, {'ok': True})
                need('POST')
                return self.add_fault(parsed())
            if path in ('/__touch', '/__delete'):
                need('POST')
                return self.edit(path, parsed())
            if path == '/__shutdown':
                need('POST')
                reply = json_reply(200, {'ok': True})
                reply.after = 'shutdown'
                return reply
            raise ControlError(404, 'no control endpoint %s' % path)
        except ControlError as e:
            return json_reply(e.status, {'error': e.message})

    def state(self):
        out = {'credentials': {name: deep(self.systems[p].creds) for p, (_, name) in SYSTEMS.items()}}
        for p, (_, name) in SYSTEMS.items():
            out[name] = self.systems[p].export()
        return out

    def add_fault(self, spec):
        if spec.get('system') not in SYSTEMS:
            raise ControlError(400, 'system must be one of sf, d365, ac, gr')
        kind = spec.get('kind')
        if kind not in FAULT_KINDS:
            raise ControlError(400, 'kind must be one of %s' % ', '.join(FAULT_KINDS))
        if kind == 'status' and not (isinstance(spec.get('status'), int) and 100 <= spec['status'] <= 599):
            raise ControlError(400, 'a status fault needs "status" (100-599)')
        if kind == 'slow' and not (isinstance(spec.get('seconds'), (int, float)) and 0 <= spec['seconds'] <= 600):
            raise ControlError(400, 'a slow fault needs "seconds" (0-600)')
        if kind == 'limit' and spec['system'] != 'sf':
            raise ControlError(400, 'the limit fault is Salesforce\'s (system "sf")')
        if kind == 'partial' and spec['system'] not in ('sf', 'd365'):
            raise ControlError(400, 'partial faults are for Salesforce composite and Dynamics $batch requests')
        times = spec.get('times', 1)
        if not isinstance(times, int) or times < 1:
            raise ControlError(400, '"times" must be a whole number >= 1')
        ra = spec.get('retry_after')
        if ra is not None and not isinstance(ra, (int, float, str)):
            raise ControlError(400, '"retry_after" must be a number')
        try:
            if spec.get('path'):
                re.compile(spec['path'])
        except (re.error, TypeError) as e:
            raise ControlError(400, 'path is not a regular expression: %s' % e)
        if kind == 'expire-token':
            # takes effect now, not on a later request: every issued token stops working
            if spec['system'] not in ('sf', 'd365'):
                raise ControlError(400, 'only sf and d365 issue tokens; ac and gr use fixed API keys')
            if not spec.get('path') and not spec.get('method'):
                n = self.systems[spec['system']].expire_tokens()
                return json_reply(200, {'ok': True, 'expired': n})
            # with a method or path: when the next matching request arrives
        self.faults.append(Fault(spec))
        return json_reply(200, {'ok': True, 'pending': len(self.faults)})

    def edit(self, path, b):
        system = self.systems.get(b.get('system'))
        if system is None:
            raise ControlError(400, 'system must be one of sf, d365, ac, gr')
        obj = b.get('object')
        if not isinstance(obj, str) or not obj:
            raise ControlError(400, '"object" is required')
        if path == '/__touch' and 'add' in b:
            if not isinstance(b['add'], dict):
                raise ControlError(400, '"add" must be an object')
            row = system.add(obj, b['add'])
            if row is None:
                raise ControlError(404, 'no %s object %s' % (b['system'], obj))
            return json_reply(200, {'ok': True, 'record': deep(row)})
        rid = b.get('id')
        if rid is None:
            raise ControlError(400, '"id" is required (or "add" for a new row)')
        if path == '/__touch':
            fields = b.get('fields') or {}
            if not isinstance(fields, dict):
                raise ControlError(400, '"fields" must be an object')
            row = system.touch(obj, str(rid), fields)
        else:
            row = system.delete_ui(obj, str(rid))
        if row is None:
            raise ControlError(404, 'no %s %s %s' % (b['system'], obj, rid))
        return json_reply(200, {'ok': True, 'record': deep(row)})


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


# ---------------------------------------------------------------- HTTP

class BodyError(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'      # keep-alive, as libcurl expects
    server_version = 'tandem-emulator/1.0'
    # even an unparseable request line is answered with an HTTP/1.1 status
    # line (http.server would otherwise answer it HTTP/0.9 style, bare)
    default_request_version = 'HTTP/1.1'
    timeout = 300                      # an idle kept-alive connection is dropped after this

    def setup(self):
        super().setup()
        # small answers go out at once instead of waiting on the client's delayed ACK
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)

    def read_body(self):
        te = (self.headers.get('Transfer-Encoding') or '').lower()
        if 'chunked' in te:
            out = bytearray()
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b';')[0].strip(), 16)
                except ValueError:
                    raise BodyError('bad chunk size line %r' % line[:40])
                if size == 0:
                    while self.rfile.readline(8192).strip():   # trailers, up to the blank line
                        pass
                    return bytes(out)
                if len(out) + size > MAX_BODY:
                    raise BodyError('body too large')
                chunk = self.rfile.read(size)
                if len(chunk) < size:
                    raise BodyError('the connection closed inside a chunk')
                out += chunk
                self.rfile.readline(8)   # the CRLF after the chunk
        length = self.headers.get('Content-Length')
        if not length:
            return b''
        try:
            n = int(length)
        except ValueError:
            raise BodyError('bad Content-Length %r' % length)
        if n < 0 or n > MAX_BODY:
            raise BodyError('bad Content-Length %d' % n)
        data = self.rfile.read(n)
        if len(data) < n:
            raise BodyError('the connection closed inside the body')
        return data

    def serve(self):
        arrival = time.monotonic()
        try:
            body = self.read_body()
        except BodyError as e:
            self.close_connection = True
            self.send(json_reply(400, {'error': 'unreadable request body: %s' % e}), close=True)
            return
        reply = self.server.emu.handle(self.command, self.path, merged_headers(self.headers), body, arrival)
        self.send(reply)
        if reply.after == 'shutdown':
            threading.Thread(target=self.server.shutdown, daemon=True).start()

    def send(self, reply, close=False):
        self.send_response(reply.status)
        for k, v in reply.headers:
            self.send_header(k, v)
        if reply.ctype:
            self.send_header('Content-Type', reply.ctype)
        self.send_header('Content-Length', str(len(reply.body)))
        if close:
            self.send_header('Connection', 'close')
        # headers and body in one write: two small writes would stall on Nagle
        self._headers_buffer.append(b'\r\n')
        if self.command != 'HEAD':
            self._headers_buffer.append(reply.body)
        self.flush_headers()

    def send_error(self, code, message=None, explain=None):
        # what http.server itself refuses (a bad request line, a header too
        # long) is answered like everything else: JSON with Content-Length
        self.close_connection = True
        self.send(json_reply(code, {'error': message or 'bad request', 'detail': explain or ''}), close=True)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = serve


def merged_headers(message):
    """The request's headers as a dict with lower-case names; a header sent
    more than once (two Prefer lines) is joined with ', ', as HTTP allows."""
    out = {}
    for k, v in message.items():
        k = k.lower()
        out[k] = out[k] + ', ' + v if k in out else v
    return out


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # a client that hangs up mid-answer is not news; anything else is
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def write_port_file(path, port):
    """Written whole, then renamed, so a reader never sees half a number."""
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write('%d\n' % port)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description='HTTP emulator of Salesforce, Dynamics 365, ActiveCampaign and '
                                 'GetResponse for tandem\'s connector tests')
    ap.add_argument('--seed', help='seed JSON file (every part optional)')
    ap.add_argument('--port-file', required=True, help='written with the port once listening')
    ap.add_argument('--port', type=int, default=0, help='port to bind on 127.0.0.1 (0: any free one)')
    ap.add_argument('--verbose', action='store_true', help='log each request to stderr')
    a = ap.parse_args(argv)
    seed = {}
    if a.seed:
        try:
            with open(a.seed, encoding='utf-8') as f:
                seed = json.load(f)
        except (OSError, ValueError) as e:
            print('emulator: cannot read the seed %s: %s' % (a.seed, e), file=sys.stderr)
            return 2
    try:
        emu = Emulator(seed)
    except (ValueError, TypeError, AttributeError) as e:
        print('emulator: bad seed %s: %s' % (a.seed, e), file=sys.stderr)
        return 2
    try:
        server = Server(('127.0.0.1', a.port), Handler)
    except OSError as e:
        print('emulator: cannot listen on 127.0.0.1:%d: %s' % (a.port, e), file=sys.stderr)
        return 2
    server.emu = emu
    server.verbose = a.verbose
    emu.port = server.server_address[1]

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    write_port_file(a.port_file, emu.port)
    if a.verbose:
        print('emulator: listening on %s' % emu.base_url, file=sys.stderr)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
