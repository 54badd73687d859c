#!/usr/bin/python3
"""cdpsim: IMDSv2 and EC2 Query API simulator for cdpd's tests (see README.md).

usage: cdpsim.py --scenario FILE.json [--ec2-port N] [--ready-file PATH] [--log PATH]
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import faults as faultmod  # noqa: E402
import imds  # noqa: E402
from ec2api import Ec2Api, peek  # noqa: E402
from ec2proto import DEFAULT_MESSAGES, STATUS_BY_CODE, error_body, load_model, new_request_id  # noqa: E402
from simstate import SimState, dumps_state  # noqa: E402

HOST = "127.0.0.1"
MALFORMED_BODY = b"cdpsim: malformed answer <<<&&& {{{ not xml, not json"


class Recorder:
    """Every EC2 and IMDS call, in order; optionally mirrored to a JSON-lines log."""

    def __init__(self, log_path=None):
        self._lock = threading.Lock()
        self._calls = []
        self._seq = 0
        self._log = open(log_path, "a", buffering=1, encoding="utf-8") if log_path else None

    def add(self, call):
        with self._lock:
            self._seq += 1
            call = dict(call, seq=self._seq)
            self._calls.append(call)
            if self._log:
                self._log.write(json.dumps(call, sort_keys=True) + "\n")
            return call

    def list(self, **match):
        with self._lock:
            calls = list(self._calls)
        since = match.pop("since", None)
        if since is not None:
            calls = [c for c in calls if c["seq"] > int(since)]
        return [c for c in calls if all(str(c.get(k)) == v for k, v in match.items())]

    def clear(self):
        with self._lock:
            n = len(self._calls)
            self._calls.clear()
            return n


class Sim:
    """Everything the HTTP handlers share."""

    def __init__(self, scenario, log_path=None):
        self.state = SimState(scenario)
        self.ec2 = Ec2Api(self.state)
        self.faults = faultmod.FaultBook()
        self.calls = Recorder(log_path)
        self.base_latency_ms = 0
        self.stop = threading.Event()


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, port, handler, sim, instance_id=None):
        self.sim = sim
        self.instance_id = instance_id
        super().__init__((HOST, port), handler)


class ImdsServer(SimServer):
    def verify_request(self, request, client_address):
        # "down": the connection is closed before a byte is read.
        fault = self.sim.faults.take("imds", instance=self.instance_id, kinds=("down",))
        if fault:
            region, _ = self.sim.state.find_instance(self.instance_id)
            self.sim.calls.add({"t": time.time(), "service": "imds", "instance": self.instance_id,
                                "method": None, "path": None, "action": None,
                                "region": region.name if region else None, "params": {},
                                "status": None, "code": None, "access_key_id": None,
                                "fault": "down"})
            return False
        return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cdpsim"
    timeout = 300  # idle keep-alive connections end eventually
    # TCP_NODELAY: headers and body go out in two writes; with Nagle on, the second waits for
    # the client's delayed ACK (~40 ms per answer on a keep-alive connection).
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def version_string(self):
        return self.server_version

    @property
    def sim(self):
        return self.server.sim

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, status, body, content_type="text/plain", headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def serve(self, service, fault, call, real, error):
        """Answer one request, applying an optional fault.

        real() -> (status, body, content_type, headers, code); error(status, code, message) -> body.
        """
        kind = fault["kind"] if fault else None
        if fault:
            call["fault"] = kind
        if kind == "latency":
            time.sleep((fault["latency_ms"] or 0) / 1000)
        if kind in ("drop", "down", "timeout"):
            self.sim.calls.add(dict(call, status=None, code=None))
            if kind == "timeout":
                ms = fault["latency_ms"]
                time.sleep((30000 if ms is None else ms) / 1000)
            self.close_connection = True
            return
        if kind in ("throttle", "error"):
            if kind == "throttle":
                code = fault["code"] or "RequestLimitExceeded"
                default = 429 if service == "imds" else STATUS_BY_CODE.get(code, 503)
            else:
                default = 500
                code = fault["code"] or ("Unavailable" if fault["status"] == 503 else "InternalError")
            status = fault["status"] or default
            message = fault["message"] or DEFAULT_MESSAGES.get(code, code)
            self.sim.calls.add(dict(call, status=status, code=code))
            self.send(status, error(status, code, message),
                      "text/xml;charset=UTF-8" if service == "ec2" else "text/plain")
            return
        status, body, ctype, headers, code = real()
        if kind == "malformed":
            status, body = 200, MALFORMED_BODY
        elif kind == "truncated":
            status, body = 200, body[:len(body) // 2]
        self.sim.calls.add(dict(call, status=status, code=code))
        self.send(status, body, ctype, headers)


class Ec2Handler(Handler):
    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_DELETE(self):
        self.route("DELETE")

    def do_PUT(self):
        self.route("PUT")

    def route(self, method):
        parts = urllib.parse.urlsplit(self.path)
        body = self.read_body()
        if parts.path.startswith("/_sim/"):
            return self.control(method, parts.path, parts.query, body)
        if method not in ("GET", "POST"):
            rid = new_request_id()
            return self.send(400, error_body("InvalidAction", f"{method} is not supported", rid),
                             "text/xml;charset=UTF-8")
        self.ec2(method, parts.path, parts.query, body)

    def ec2(self, method, path, query, body):
        t = time.time()
        flat, region, akid = peek(body, query, self.headers)
        call = {"t": t, "service": "ec2", "instance": None, "method": method, "path": path,
                "action": flat.get("Action"), "region": region, "params": flat,
                "status": None, "code": None, "access_key_id": akid}
        fault = self.sim.faults.take("ec2", action=flat.get("Action"), region=region,
                                     kinds=faultmod.QUEUED_KINDS)
        if self.sim.base_latency_ms:
            time.sleep(self.sim.base_latency_ms / 1000)

        def real():
            ans = self.sim.ec2.handle(method, path, query, self.headers, body)
            call["region"] = ans.region
            return ans.status, ans.body, "text/xml;charset=UTF-8", {}, ans.code

        def error(status, code, message):
            return error_body(code, message, new_request_id())

        self.serve("ec2", fault, call, real, error)

    # -- control API -----------------------------------------------------

    def reply(self, status, obj):
        body = obj if isinstance(obj, str) else json.dumps(obj, default=str)
        self.send(status, body + "\n", "application/json")

    def control(self, method, path, query, body):
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            return self.reply(400, {"error": "body is not JSON"})
        route = (method, path.rstrip("/"))
        sim, state = self.sim, self.sim.state
        try:
            if route == ("GET", "/_sim/calls"):
                match = {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()}
                return self.reply(200, sim.calls.list(**match))
            if route == ("POST", "/_sim/calls/clear"):
                return self.reply(200, {"cleared": sim.calls.clear()})
            if route == ("GET", "/_sim/faults"):
                return self.reply(200, sim.faults.list())
            if route == ("DELETE", "/_sim/faults"):
                return self.reply(200, {"cleared": sim.faults.clear()})
            if route == ("POST", "/_sim/faults"):
                return self.reply(200, self.add_fault(data))
            if route == ("POST", "/_sim/latency"):
                ms = data.get("ms")
                if not isinstance(ms, int) or ms < 0:
                    return self.reply(400, {"error": "ms must be an integer >= 0"})
                sim.base_latency_ms = ms
                return self.reply(200, {"ms": ms})
            if route == ("GET", "/_sim/state"):
                with state.lock:
                    return self.reply(200, dumps_state(state.to_json()))
            if route == ("POST", "/_sim/snapshot_state"):
                return self.reply(200, state.force_state("snapshot", data["region"], data["snapshot_id"],
                                                         data["state"]))
            if route == ("POST", "/_sim/image_state"):
                return self.reply(200, state.force_state("image", data["region"], data["image_id"],
                                                         data["state"]))
            if route == ("POST", "/_sim/seed_snapshots"):
                return self.reply(200, state.seed_snapshots(data))
            if route == ("POST", "/_sim/reset"):
                return self.reply(200, {"regions": state.reset()})
            if route == ("GET", "/_sim/settings"):
                return self.reply(200, state.current_settings())
            if route == ("POST", "/_sim/settings"):
                with state.lock:
                    return self.reply(200, state.update_settings(data))
            if route == ("POST", "/_sim/tags"):
                tags = state.set_tags(data["region"], data["resource"], data.get("set"), data.get("delete"))
                return self.reply(200, {"resource": data["resource"], "tags": tags})
            if route == ("POST", "/_sim/instance"):
                return self.reply(200, self.update_instance(data))
            if route == ("POST", "/_sim/permissions"):
                perms = data.get("permissions")
                if perms is not None and not isinstance(perms, list):
                    return self.reply(400, {"error": "permissions must be a list or null"})
                state.permissions = perms
                return self.reply(200, {"permissions": perms})
            if route == ("POST", "/_sim/shutdown"):
                self.reply(200, {"shutdown": True})
                sim.stop.set()
                return None
            if route == ("GET", "/_sim/health"):
                return self.reply(200, {"ok": True, "pid": os.getpid()})
        except (faultmod.FaultError, ValueError, TypeError) as err:
            return self.reply(400, {"error": str(err)})
        except KeyError as err:
            return self.reply(404 if isinstance(err.args[0], str) and err.args[0].startswith("no ") else 400,
                              {"error": f"missing or unknown: {err.args[0]}"})
        return self.reply(404, {"error": f"no control endpoint {method} {path}"})

    def add_fault(self, spec):
        fault = faultmod.normalize(spec)
        state = self.sim.state
        if fault["kind"] == "token_expire":
            state.imds_expire_tokens(fault["instance"])
            return {"applied": "token_expire", "instance": fault["instance"]}
        if fault["kind"] == "creds_expire":
            if fault["instance"] and state.find_instance(fault["instance"])[1] is None:
                raise KeyError(f"no instance {fault['instance']}")
            return {"applied": "creds_expire", "instances": state.expire_role_credentials(fault["instance"])}
        return self.sim.faults.add(fault)

    def update_instance(self, data):
        state = self.sim.state
        with state.lock:
            inst = state.region(data["region"]).instances.get(data["id"])
            if inst is None:
                raise KeyError(f"no instance {data['id']}")
            for key in ("instance_metadata_tags", "state", "role"):
                if key in data:
                    inst[key] = data[key]
            if "state" in data:  # a forced state does not move on by itself
                inst.pop("transition", None)
                state.region(data["region"]).pending.pop(inst["id"], None)
            return json.loads(dumps_state(inst))


class ImdsHandler(Handler):
    def do_GET(self):
        self.route("GET")

    def do_PUT(self):
        self.route("PUT")

    def do_POST(self):
        self.route("POST")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        self.read_body()
        iid = self.server.instance_id
        region, _ = self.sim.state.find_instance(iid)
        path = self.path
        params = {}
        if imds.TTL_HEADER in self.headers:
            params[imds.TTL_HEADER] = self.headers[imds.TTL_HEADER]
        call = {"t": time.time(), "service": "imds", "instance": iid, "method": method, "path": path,
                "action": None, "region": region.name if region else None, "params": params,
                "status": None, "code": None, "access_key_id": None}
        fault = self.sim.faults.take("imds", path=path.split("?")[0], instance=iid,
                                     kinds=faultmod.QUEUED_KINDS)

        def real():
            ans = imds.handle(self.sim.state, iid, method, path, self.headers)
            return ans.status, ans.body, "text/plain", ans.headers, ans.code

        def error(status, code, message):
            return message

        self.serve("imds", fault, call, real, error)


def write_ready(path, info):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(info, f)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description="IMDSv2 + EC2 Query API simulator")
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--ec2-port", type=int, default=None, help="0 = any free port")
    ap.add_argument("--ready-file")
    ap.add_argument("--log", help="append every call as a JSON line")
    args = ap.parse_args(argv)

    with open(args.scenario, encoding="utf-8") as f:
        scenario = json.load(f)
    load_model()
    sim = Sim(scenario, args.log)
    ec2_port = args.ec2_port if args.ec2_port is not None else int(scenario.get("ec2_port", 0))
    servers = [SimServer(ec2_port, Ec2Handler, sim)]
    imds_ports = {}
    for _, inst in sim.state.imds_instances():
        server = ImdsServer(inst["imds_port"], ImdsHandler, sim, inst["id"])
        servers.append(server)
        imds_ports[inst["id"]] = server.server_address[1]
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
               for s in servers]
    for t in threads:
        t.start()

    def on_signal(signum, frame):
        sim.stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    info = {"ec2_port": servers[0].server_address[1], "imds": imds_ports, "pid": os.getpid()}
    if args.ready_file:
        write_ready(args.ready_file, info)
    else:
        print(json.dumps(info), flush=True)
    while not sim.stop.wait(0.5):
        pass
    for s in servers:
        s.shutdown()
        s.server_close()
    if args.ready_file:
        try:
            os.unlink(args.ready_file)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
