#!/usr/bin/env python3
"""An application consuming scim-lambda's change events (RFC 9967 SETs).

It needs Python 3 and PyJWT (pip install PyJWT==2.10.1), and listens on
127.0.0.1 only. Each POST, on any path, is one change event:

- A signed SET (RFC 8935 push), as the local server sends it. From the
  repository's root, with one key (at least 32 bytes) for both:

      KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
      python3 examples/event_consumer.py --key "$KEY" --port 9000 &
      SCIM_EVENT_WEBHOOK_URL=http://127.0.0.1:9000/hook SCIM_EVENT_SIGNING_KEY="$KEY" cargo run

  The header's `typ` must be `secevent+jwt` and the HS256 signature must
  hold; a SET that fails gets 400 with an RFC 8935 error, which the server
  logs and passes.

- The claims as JSON, unsigned, as the stack's webhook (an EventBridge API
  destination) sends them. EventBridge authenticates itself with the
  connection's header instead: --api-key is its value (EventWebhookSecret,
  or "Basic <base64 of user:password>" with EventWebhookAuth=Basic) and
  --api-key-header its name (EventWebhookApiKeyName, Authorization by
  default); --key may then be left out. Without --api-key, unsigned claims
  are refused (401). API destinations call HTTPS endpoints only: put this
  behind a TLS proxy, e.g.

      python3 examples/event_consumer.py --api-key "$EVENT_WEBHOOK_SECRET" --port 9000

Deliveries are at least once: a SET seen again (same `jti`) is acknowledged
(202) and not acted on twice. --record FILE appends one JSON line a delivery.
"""

import argparse
import hmac
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

PROV = "urn:ietf:params:scim:event:prov:"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
REQUIRED = ["iss", "iat", "jti", "events"]
REMOVE_ONE = re.compile(r'^members\[value eq (".*")\]$')


class Refused(Exception):
    def __init__(self, status, err, description):
        super().__init__(description)
        self.status, self.err, self.description = status, err, description


def verify_set(token, args):
    """The claims of a signed SET, or Refused with the RFC 8935 error."""
    if args.key is None:
        raise Refused(400, "invalid_key", "this receiver has no --key for signed SETs")
    try:
        typ = jwt.get_unverified_header(token).get("typ")
    except jwt.DecodeError as e:
        raise Refused(400, "invalid_request", f"not a compact JWS: {e}")
    if typ != "secevent+jwt":
        raise Refused(400, "invalid_request", f"typ is {typ!r}, not 'secevent+jwt'")
    try:
        # PyJWT refuses an `iat` in its future: the leeway absorbs clock skew.
        return jwt.decode(token, args.key, algorithms=["HS256"], audience=args.audience, leeway=60,
                          options={"require": REQUIRED, "verify_aud": args.audience is not None})
    except jwt.InvalidSignatureError:
        raise Refused(400, "invalid_key", "the signature does not verify with this key")
    except jwt.MissingRequiredClaimError as e:
        raise Refused(400, "invalid_audience" if e.claim == "aud" else "invalid_request", str(e))
    except jwt.InvalidAudienceError as e:
        raise Refused(400, "invalid_audience", str(e))
    except jwt.InvalidTokenError as e:
        raise Refused(400, "invalid_request", str(e))


def check_claims(body, headers, args):
    """The claims EventBridge delivered unsigned, after its API key header."""
    sent = headers.get(args.api_key_header, "")
    if args.api_key is None or not hmac.compare_digest(sent.encode(), args.api_key.encode()):
        raise Refused(401, "authentication_failed", f"unsigned claims need the {args.api_key_header} header")
    try:
        claims = json.loads(body)
    except ValueError as e:
        raise Refused(400, "invalid_request", f"the body is not JSON: {e}")
    missing = [c for c in REQUIRED if not isinstance(claims, dict) or c not in claims]
    if missing:
        raise Refused(400, "invalid_request", f"claims missing: {', '.join(missing)}")
    aud = claims.get("aud")
    if args.audience is not None and args.audience not in (aud if isinstance(aud, list) else [aud]):
        raise Refused(400, "invalid_audience", "the audience does not match")
    return claims


def act(claims, say):
    """What this application does with one event: one line per event URI."""
    subject = claims.get("sub_id") or {}
    sid, uri = subject.get("id"), str(subject.get("uri", ""))
    for event, payload in claims["events"].items():
        what = event.removeprefix(PROV)
        data = payload.get("data") if isinstance(payload, dict) else None
        data = data if isinstance(data, dict) else {}
        if what == "deactivate":
            say(f"revoke sessions of user {sid}")
        elif what == "activate":
            say(f"user {sid} may sign in again")
        elif what == "create:full" and uri.startswith("/Groups/"):
            say(f"create application group '{data.get('displayName')}' for group {sid}")
        elif what == "patch:full" and PATCH_OP in data.get("schemas", []):
            for op in data.get("Operations", []):
                kind, path = str(op.get("op", "")).lower(), str(op.get("path", ""))
                removed = REMOVE_ONE.match(path)
                if kind == "add" and path == "members":
                    for member in op.get("value", []):
                        say(f"grant {member.get('value')} access of group {sid}")
                elif kind == "remove" and removed:
                    say(f"revoke {json.loads(removed.group(1))} access of group {sid}")
                else:
                    say(f"noted {kind} {path} of {uri}")
        elif what == "delete":
            say(f"forget {uri}")
        else:
            say(f"noted {what} of {uri}")


def handler(args):
    seen, lock = set(), threading.Lock()
    record = open(args.record, "a", encoding="utf-8") if args.record else None

    def say(line):
        print(line, flush=True)

    class Receiver(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            text = body.decode("utf-8", "replace").strip()
            try:
                if text.startswith("{"):
                    claims = check_claims(text, self.headers, args)
                else:
                    claims = verify_set(text, args)
                if not isinstance(claims["events"], dict) or not isinstance(claims["jti"], str):
                    raise Refused(400, "invalid_request", "events is not an object or jti not a string")
            except Refused as e:
                return self.answer(e.status, {"err": e.err, "description": e.description})
            with lock:
                duplicate = claims["jti"] in seen
                seen.add(claims["jti"])
                if record:
                    line = {"path": self.path, "duplicate": duplicate, "claims": claims}
                    record.write(json.dumps(line) + "\n")
                    record.flush()
                if not duplicate:
                    act(claims, say)
            self.answer(202, None)

        def answer(self, status, error):
            body = json.dumps(error).encode() if error else b""
            self.send_response(status)
            if error:
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Language", "en")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass  # no access log: the output is what the application does

    return Receiver


def main():
    p = argparse.ArgumentParser(description="Receive scim-lambda change events.")
    p.add_argument("--key", help="the HS256 key (SCIM_EVENT_SIGNING_KEY)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    p.add_argument("--audience", help="require this aud (SCIM_EVENT_AUDIENCE)")
    p.add_argument("--record", help="append each accepted delivery to this file, one JSON line")
    p.add_argument("--api-key", help="accept unsigned claims carrying this header value")
    p.add_argument("--api-key-header", default="Authorization", help="the API key header's name")
    args = p.parse_args()
    if args.key is None and args.api_key is None:
        p.error("give --key (signed SETs), --api-key (the stack's webhook), or both")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(args))
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
