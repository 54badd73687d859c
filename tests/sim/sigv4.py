"""SigV4 verification of incoming EC2 requests, with botocore's own signer.

The request is rebuilt as a botocore AWSRequest holding only the headers the
client named in SignedHeaders, and botocore.auth.SigV4Auth computes the
canonical request, string to sign and signature with the client's X-Amz-Date
as the timestamp.  What botocore would send, this accepts byte for byte.
"""

import datetime
import hmac
import re

import botocore.auth
import botocore.awsrequest
import botocore.credentials

from ec2proto import Ec2Error

MAX_SKEW = datetime.timedelta(minutes=5)

_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)\s*$")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


def parse_authorization(value):
    """-> dict(access_key_id, date, region, service, signed_headers, signature) or None."""
    m = _AUTH_RE.match(value or "")
    if not m:
        return None
    scope = m.group(1).split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        return None
    return {"access_key_id": scope[0], "date": scope[1], "region": scope[2],
            "service": scope[3], "signed_headers": m.group(2).split(";"),
            "signature": m.group(3)}


def verify(method, path, query, headers, body, lookup_key, now=None):
    """Check one request's signature.

    headers: an email.message.Message-like object (get_all).
    lookup_key(access_key_id) -> dict(secret_access_key, session_token, expiration)
    or None.  Returns (auth dict, key record); raises Ec2Error.
    """
    auth = parse_authorization(headers.get("Authorization"))
    if headers.get("Authorization") is None:
        raise Ec2Error("AuthFailure", "AWS was not able to validate the provided access credentials")
    if auth is None:
        raise Ec2Error("IncompleteSignature",
                       "The request signature does not conform to AWS standards.")
    key = lookup_key(auth["access_key_id"])
    if key is None:
        raise Ec2Error("AuthFailure")
    if auth["service"] != "ec2":
        raise Ec2Error("SignatureDoesNotMatch",
                       "Credential should be scoped to correct service: 'ec2'.")
    if not _REGION_RE.match(auth["region"]):
        raise Ec2Error("SignatureDoesNotMatch", "Credential should be scoped to a valid region.")
    amz_date = headers.get("X-Amz-Date")
    if not amz_date:
        raise Ec2Error("IncompleteSignature",
                       "Authorization header requires existence of a 'X-Amz-Date' header.")
    try:
        when = datetime.datetime.strptime(amz_date, botocore.auth.SIGV4_TIMESTAMP).replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        raise Ec2Error("IncompleteSignature", f"Invalid X-Amz-Date: {amz_date}") from None
    if auth["date"] != amz_date[:8]:
        raise Ec2Error("SignatureDoesNotMatch",
                       "Credential should be scoped to a valid date matching X-Amz-Date.")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if abs(now - when) > MAX_SKEW:
        raise Ec2Error("RequestExpired")
    signed = [h.lower() for h in auth["signed_headers"]]
    if "host" not in signed:
        raise Ec2Error("IncompleteSignature", "'Host' must be a 'SignedHeader' in the AWS Authorization.")
    token = headers.get("X-Amz-Security-Token")
    if (key.get("session_token") or None) != (token or None):
        raise Ec2Error("AuthFailure")
    expiration = key.get("expiration")
    if expiration is not None and now >= expiration:
        raise Ec2Error("RequestExpired")

    sign_headers = {}
    for name in signed:
        values = headers.get_all(name)
        if not values:
            raise Ec2Error("SignatureDoesNotMatch")
        sign_headers[name] = ",".join(values)
    url = "http://" + sign_headers["host"] + path + (("?" + query) if query else "")
    request = botocore.awsrequest.AWSRequest(method=method, url=url, headers=sign_headers, data=body)
    request.context["timestamp"] = amz_date
    creds = botocore.credentials.Credentials(auth["access_key_id"], key["secret_access_key"], token)
    signer = botocore.auth.SigV4Auth(creds, "ec2", auth["region"])
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    expected = signer.signature(string_to_sign, request)
    if not hmac.compare_digest(expected, auth["signature"]):
        raise Ec2Error("SignatureDoesNotMatch")
    return auth, key
