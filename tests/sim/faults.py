"""Fault injection book: registered faults, consumed FIFO by matching requests."""

import threading

QUEUED_KINDS = {"throttle", "error", "drop", "latency", "timeout", "malformed", "truncated", "down"}
IMMEDIATE_KINDS = {"token_expire", "creds_expire"}
KINDS = QUEUED_KINDS | IMMEDIATE_KINDS


class FaultError(ValueError):
    pass


def normalize(spec):
    """Validate a fault registration (dict from the control API)."""
    if not isinstance(spec, dict):
        raise FaultError("a fault is a JSON object")
    known = {"service", "action", "path", "instance", "region", "kind", "count",
             "latency_ms", "status", "code", "message"}
    extra = set(spec) - known
    if extra:
        raise FaultError(f"unknown fault fields: {sorted(extra)}")
    fault = {
        "service": spec.get("service", "ec2"),
        "action": spec.get("action", "*"),
        "path": spec.get("path"),
        "instance": spec.get("instance"),
        "region": spec.get("region"),
        "kind": spec.get("kind"),
        "count": spec.get("count", 1),
        "latency_ms": spec.get("latency_ms"),
        "status": spec.get("status"),
        "code": spec.get("code"),
        "message": spec.get("message"),
    }
    if fault["service"] not in ("ec2", "imds"):
        raise FaultError("service must be 'ec2' or 'imds'")
    if fault["kind"] not in KINDS:
        raise FaultError(f"kind must be one of {sorted(KINDS)}")
    for name in ("count", "latency_ms", "status"):
        if fault[name] is not None and (not isinstance(fault[name], int) or isinstance(fault[name], bool)):
            raise FaultError(f"{name} must be an integer")
    if fault["count"] == 0 or fault["count"] < -1:
        raise FaultError("count must be >= 1, or -1 for until cleared")
    return fault


class FaultBook:
    def __init__(self):
        self._lock = threading.Lock()
        self._faults = []
        self._next_id = 1

    def add(self, fault):
        with self._lock:
            fault = dict(fault, id=self._next_id)
            self._next_id += 1
            self._faults.append(fault)
            return dict(fault)

    def clear(self):
        with self._lock:
            n = len(self._faults)
            self._faults.clear()
            return n

    def list(self):
        with self._lock:
            return [dict(f) for f in self._faults]

    def take(self, service, action=None, region=None, path=None, instance=None, kinds=None):
        """The first registered fault matching this request, consumed once; or None."""
        with self._lock:
            for fault in self._faults:
                if fault["service"] != service or (kinds and fault["kind"] not in kinds):
                    continue
                if service == "ec2":
                    if fault["action"] not in ("*", None, action):
                        continue
                    if fault["region"] and fault["region"] != region:
                        continue
                else:
                    if fault["instance"] and fault["instance"] != instance:
                        continue
                    if fault["path"] and (path is None or not path.startswith(fault["path"])):
                        continue
                if fault["count"] > 0:
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self._faults.remove(fault)
                return dict(fault)
        return None
