"""The EC2 endpoint: authenticate, validate, authorize, dispatch, serialize.

Order of checks per request: SigV4 (AuthFailure / SignatureDoesNotMatch /
RequestExpired) -> Version -> Action -> parameters against the botocore model
-> permissions and DryRun -> the action handler from ec2actions.ACTIONS.
"""

import sys
import traceback
import urllib.parse
from dataclasses import dataclass, field

import sigv4
from ec2actions import ACTIONS
from ec2proto import (API_VERSION, Ec2Error, error_body, load_model, new_request_id,
                      parse_request, serialize_response)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    code: str = None
    action: str = None
    region: str = None
    access_key_id: str = None
    params: dict = field(default_factory=dict)
    request_id: str = ""


@dataclass
class Ctx:
    state: object
    region: object
    action: str
    key: dict
    request_id: str


def parse_form(body, query):
    """Form body (plus any URL query) -> flat dict; the last of repeated names wins."""
    text = body.decode("utf-8") + ("&" + query if query else "")
    return dict(urllib.parse.parse_qsl(text, keep_blank_values=True))


def peek(body, query, headers):
    """Action and signer's region/key, read leniently (for faults and call records)."""
    try:
        flat = parse_form(body, query)
    except UnicodeDecodeError:
        flat = {}
    auth = sigv4.parse_authorization(headers.get("Authorization")) or {}
    return flat, auth.get("region"), auth.get("access_key_id")


class Ec2Api:
    def __init__(self, state):
        self.state = state
        self.model = load_model()
        self.operations = set(self.model.operation_names)

    def handle(self, method, path, query, headers, body):
        ans = Answer(request_id=new_request_id())
        flat, ans.region, ans.access_key_id = peek(body, query, headers)
        ans.params = flat
        ans.action = flat.get("Action")
        try:
            ans.status, ans.body = 200, self._run(method, path, query, headers, body, ans)
        except Ec2Error as err:
            ans.status, ans.code = err.status, err.code
            ans.body = error_body(err.code, err.message, ans.request_id)
        except Exception:  # a sim bug must still look like an EC2 answer
            traceback.print_exc(file=sys.stderr)
            ans.status, ans.code = 500, "InternalError"
            ans.body = error_body("InternalError", "An internal error has occurred", ans.request_id)
        return ans

    def _run(self, method, path, query, headers, body, ans):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise Ec2Error("InvalidParameterValue", "The request body is not valid UTF-8") from None
        auth, key = sigv4.verify(method, path, query, headers, body, self.state.lookup_key)
        region = self.state.region(auth["region"])
        flat = ans.params
        version = flat.get("Version")
        if version is None:
            raise Ec2Error("MissingParameter", "The request must contain the parameter Version")
        if version != API_VERSION:
            raise Ec2Error("NoSuchVersion",
                           f"The requested version ({version}) of service AmazonEC2 does not exist")
        action = flat.get("Action")
        if not action:
            raise Ec2Error("MissingAction", "The request must contain the parameter Action")
        if action not in self.operations:
            raise Ec2Error("InvalidAction", f"The action {action} is not valid for this web service.")
        op = self.model.operation_model(action)
        params = parse_request(op, {k: v for k, v in flat.items() if k not in ("Action", "Version")})
        allowed = self.state.allowed(key, action)
        if params.get("DryRun"):
            # Answered for every model action, implemented or not: it only proves permission.
            raise Ec2Error("DryRunOperation" if allowed else "UnauthorizedOperation")
        if not allowed:
            raise Ec2Error("UnauthorizedOperation",
                           f"You are not authorized to perform this operation. "
                           f"Action: ec2:{action}")
        handler = ACTIONS.get(action)
        if handler is None:
            raise Ec2Error("InvalidAction", f"The action {action} is not implemented by cdpsim.")
        with self.state.lock:
            region.settle()  # pending snapshots/images/instance states move on lazily
            data = handler(Ctx(self.state, region, action, key, ans.request_id), params)
            return serialize_response(op, data, ans.request_id)
