#!/usr/bin/env python3
"""OAuth 2.0 client-credentials test client for the scim-lambda token endpoint.

Drives ``<base>/oauth2/token`` (RFC 6749 section 4.4) and then ``<base>/Users``
with the issued bearer token, using real, independent client implementations
rather than hand-written OAuth, so the Rust integration tests can check the
endpoint against what third-party clients actually send:

  authlib-basic     Authlib ``OAuth2Session``, client_secret_basic
  authlib-post      Authlib ``OAuth2Session``, client_secret_post
  oauthlib-backend  requests-oauthlib ``OAuth2Session`` with oauthlib's
                    ``BackendApplicationClient`` (library default: HTTP Basic;
                    ``--include-client-id`` switches to credentials in the body)
  connid            the exact token request of the Tirasa ConnId SCIM connector
                    (Apache Syncope / midPoint), replayed with plain ``requests``:
                    POST, ``Content-Type: application/x-www-form-urlencoded``,
                    ``Accept: application/json``, raw (not URL-encoded) body
                    ``&client_id=ID&client_secret=SECRET`` with no grant_type;
                    the token is read from the JSON field ``--token-node``, and a
                    401 on a SCIM call fetches a new token and retries (up to 3
                    times), as the connector's ``executeAndRetry`` does.

Exactly one JSON object is printed on stdout and the exit status is 0 whenever
the scenario could be run; the caller (the Rust test) makes the assertions.
Anything unexpected (a token fetch raising without ``--expect-error``, a
connection error, ...) exits non-zero with a message on stderr.

Output (success modes)::

  {"mode": ..., "tokens": [distinct access tokens, in order],
   "statuses": [HTTP status of each GET of --users-url],
   "token_types": [...], "expires_in": [...], "scope": [...],   # one per token response
   "token_requests": N, "token_responses": [{"status", "cache_control", "pragma"}],
   "token_request": {"method", "content_type", "accept", "authorization_scheme", "body"},
   "expired_token_status": status of the old token after --wait-expiry (or null),
   "refetched_automatically": true/false/null, "library_versions": {...}}

With ``--expect-error``::

  {"mode": ..., "error": <OAuth error code the library surfaced>,
   "status": <HTTP status of the token response>, "description": ..., ...}

Requirements (pinned; install into a virtualenv):
  Authlib==1.9.10 requests==2.34.2 requests-oauthlib==2.0.0 oauthlib==4.0.1

Only the given URLs are contacted; they must be loopback addresses unless
``--allow-non-loopback`` is given.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
import time
import urllib.parse

import requests

MODES = ("authlib-basic", "authlib-post", "oauthlib-backend", "connid")

# What the ConnId connector (net.tirasa.connid.bundles.scim 1.0.x) sends by default.
CONNID_ACCESS_TOKEN_CONTENT_TYPE = "application/x-www-form-urlencoded"  # accessTokenContentType
CONNID_ACCESS_TOKEN_ACCEPT = "application/json"  # accessTokenAccept
CONNID_SCIM_CONTENT_TYPE = "application/json"  # contentType
CONNID_SCIM_ACCEPT = "application/json"  # accept
CONNID_USER_AGENT = "Apache-CXF/3.3.13"  # CXF Headers.USER_AGENT for the bundle's CXF version
CONNID_MAX_RETRIES = 3  # AbstractSCIMService.MAX_RETRIES


class ScriptError(Exception):
    """Something unexpected happened; reported on stderr with a non-zero exit."""


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="OAuth 2.0 client-credentials test client (prints one JSON object).")
    p.add_argument("mode", choices=MODES)
    p.add_argument("--token-url", required=True, help="<base>/oauth2/token")
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret", required=True)
    p.add_argument("--users-url", required=True, help="<base>/Users")
    p.add_argument("--scope", default=None, help="scope to request (authlib and oauthlib modes)")
    p.add_argument("--wait-expiry", action="store_true",
                   help="after the first GET, sleep until the token is past its expiry, then GET again")
    p.add_argument("--expiry-margin", type=float, default=1.0,
                   help="seconds to sleep past the token's expires_at (default 1.0)")
    p.add_argument("--leeway", type=int, default=0,
                   help="authlib OAuth2Session leeway in seconds (authlib's own default is 60, "
                        "which treats any token with expires_in <= 60 as already expired)")
    p.add_argument("--expect-error", action="store_true",
                   help="the token request is expected to fail: report the OAuth error instead of raising")
    p.add_argument("--token-node", default="access_token",
                   help="connid: JSON field holding the token (accessTokenNodeId)")
    p.add_argument("--connid-username", default=None,
                   help="connid: also append &username=...&password=... as the connector does "
                        "when username and password are configured")
    p.add_argument("--connid-password", default=None)
    p.add_argument("--include-client-id", action="store_true",
                   help="oauthlib-backend: include_client_id=True (credentials in the body) "
                        "instead of the library default (HTTP Basic)")
    p.add_argument("--timeout", type=float, default=10.0, help="per-request timeout in seconds")
    p.add_argument("--allow-non-loopback", action="store_true",
                   help="allow URLs whose host is not a loopback address")
    args = p.parse_args(argv)
    if (args.connid_username is None) != (args.connid_password is None):
        p.error("--connid-username and --connid-password go together")
    for name in ("token_url", "users_url"):
        url = getattr(args, name)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            p.error(f"--{name.replace('_', '-')} must be an http(s) URL: {url!r}")
        if not args.allow_non_loopback and not _is_loopback(parts.hostname):
            p.error(f"--{name.replace('_', '-')} host {parts.hostname!r} is not loopback "
                    "(use --allow-non-loopback)")
    return args


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Recorder:
    """Collects what the client saw; turns into the output JSON."""

    def __init__(self, mode: str):
        self.mode = mode
        self.tokens: list[str] = []
        self.statuses: list[int] = []
        self.token_types: list = []
        self.expires_in: list = []
        self.scope: list = []
        self.token_responses: list[dict] = []
        self.token_request: dict | None = None
        self.expired_token_status = None
        self.refetched_automatically = None
        self.extra: dict = {}

    # requests/authlib/requests-oauthlib compliance hook: sees every token response
    def token_response_hook(self, resp: requests.Response) -> requests.Response:
        self.token_responses.append({
            "status": resp.status_code,
            "cache_control": resp.headers.get("Cache-Control"),
            "pragma": resp.headers.get("Pragma"),
            "www_authenticate": resp.headers.get("WWW-Authenticate"),
        })
        if self.token_request is None:
            self.token_request = describe_request(resp.request)
        return resp

    def add_token(self, token: dict, access_token_field: str = "access_token"):
        value = token.get(access_token_field)
        if value not in self.tokens:
            self.tokens.append(value)
        self.token_types.append(token.get("token_type"))
        self.expires_in.append(token.get("expires_in"))
        scope = token.get("scope")
        if isinstance(scope, (list, tuple)):  # oauthlib turns scope into a list
            scope = " ".join(scope)
        self.scope.append(scope)

    def output(self) -> dict:
        out = {
            "mode": self.mode,
            "tokens": self.tokens,
            "statuses": self.statuses,
            "token_types": self.token_types,
            "expires_in": self.expires_in,
            "scope": self.scope,
            "token_requests": len(self.token_responses),
            "token_responses": self.token_responses,
            "token_request": self.token_request,
            "expired_token_status": self.expired_token_status,
            "refetched_automatically": self.refetched_automatically,
        }
        out.update(self.extra)
        return out

    def error_output(self, error, description, library_status=None) -> dict:
        status = self.token_responses[-1]["status"] if self.token_responses else None
        out = {
            "mode": self.mode,
            "error": error,
            "status": status,
            "description": description,
            "token_requests": len(self.token_responses),
            "token_responses": self.token_responses,
            "token_request": self.token_request,
        }
        if library_status is not None:
            out["library_status_code"] = library_status
        out.update(self.extra)
        return out


def describe_request(req: requests.PreparedRequest) -> dict:
    body = req.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    auth = req.headers.get("Authorization")
    return {
        "method": req.method,
        "content_type": req.headers.get("Content-Type"),
        "accept": req.headers.get("Accept"),
        "authorization_scheme": auth.split(None, 1)[0] if auth else None,
        "body": body,
    }


def sleep_past(expires_at: float, margin: float):
    delay = expires_at + margin - time.time()
    if delay > 0:
        time.sleep(delay)


def probe_old_token(rec: Recorder, args, old_token: str):
    """GET users with the expired token, bypassing any library refresh logic."""
    r = requests.get(args.users_url, headers={"Authorization": f"Bearer {old_token}"},
                     timeout=args.timeout)
    rec.expired_token_status = r.status_code


# ---------------------------------------------------------------- authlib ---

def run_authlib(args, rec: Recorder, auth_method: str) -> dict:
    import authlib
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.requests_client import OAuth2Session

    rec.extra["library_versions"] = {"authlib": authlib.__version__, "requests": requests.__version__}
    rec.extra["token_endpoint_auth_method"] = auth_method
    # token_endpoint and grant_type go into the client's metadata: Authlib's
    # OAuth2Client.ensure_active_token() only re-fetches an expired token by
    # itself when metadata["grant_type"] == "client_credentials", and it uses
    # metadata["token_endpoint"] as the URL. (fetch_token(grant_type=...) alone
    # does not record the grant type.)
    session = OAuth2Session(
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_endpoint_auth_method=auth_method,
        scope=args.scope,
        token_endpoint=args.token_url,
        grant_type="client_credentials",
        leeway=args.leeway,
        default_timeout=args.timeout,
    )
    session.register_compliance_hook("access_token_response", rec.token_response_hook)
    try:
        token = session.fetch_token(args.token_url, grant_type="client_credentials")
    except OAuthError as e:
        if args.expect_error:
            return rec.error_output(e.error, e.description)
        raise ScriptError(f"token request failed: {e!r} {e.description}") from e
    rec.add_token(token)
    if args.expect_error:
        out = rec.error_output(None, None)
        out["unexpected_success"] = True
        return out

    rec.statuses.append(session.get(args.users_url).status_code)

    if args.wait_expiry:
        old = session.token
        if old.get("expires_at") is None:
            raise ScriptError("token has no expires_at/expires_in; cannot wait for expiry")
        sleep_past(old["expires_at"], args.expiry_margin)
        probe_old_token(rec, args, old["access_token"])
        before = len(rec.token_responses)
        # the session must notice the expiry and fetch a new token itself
        rec.statuses.append(session.get(args.users_url).status_code)
        rec.refetched_automatically = len(rec.token_responses) > before
        if rec.refetched_automatically:
            rec.add_token(session.token)
    return rec.output()


# ------------------------------------------------------ requests-oauthlib ---

def run_oauthlib(args, rec: Recorder) -> dict:
    import oauthlib
    import requests_oauthlib
    from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error, TokenExpiredError
    from requests_oauthlib import OAuth2Session

    # oauthlib refuses http:// token URLs unless this is set; the URLs are
    # loopback test servers (checked in parse_args unless overridden).
    if urllib.parse.urlsplit(args.token_url).scheme == "http":
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

    rec.extra["library_versions"] = {"requests-oauthlib": requests_oauthlib.__version__,
                                     "oauthlib": oauthlib.__version__,
                                     "requests": requests.__version__}
    rec.extra["include_client_id"] = True if args.include_client_id else None
    client = BackendApplicationClient(client_id=args.client_id, scope=args.scope)
    session = OAuth2Session(client=client, scope=args.scope)
    session.register_compliance_hook("access_token_response", rec.token_response_hook)

    def fetch():
        # include_client_id=None is the library default: with no `auth`, it
        # builds requests.auth.HTTPBasicAuth(client_id, client_secret) and the
        # body is just grant_type=client_credentials[&scope=...].
        return session.fetch_token(
            token_url=args.token_url,
            client_secret=args.client_secret,
            include_client_id=True if args.include_client_id else None,
            timeout=args.timeout,
        )

    try:
        token = fetch()
    except OAuth2Error as e:
        if args.expect_error:
            # e.status_code is oauthlib's per-error-class default, not the wire status
            return rec.error_output(e.error, e.description, library_status=e.status_code)
        raise ScriptError(f"token request failed: {e!r}") from e
    rec.add_token(token)
    if args.expect_error:
        out = rec.error_output(None, None)
        out["unexpected_success"] = True
        return out

    rec.statuses.append(session.get(args.users_url, timeout=args.timeout).status_code)

    if args.wait_expiry:
        old = dict(session.token)
        if old.get("expires_at") is None:
            raise ScriptError("token has no expires_at/expires_in; cannot wait for expiry")
        sleep_past(old["expires_at"], args.expiry_margin)
        probe_old_token(rec, args, old["access_token"])
        before = len(rec.token_responses)
        try:
            rec.statuses.append(session.get(args.users_url, timeout=args.timeout).status_code)
        except TokenExpiredError:
            # requests-oauthlib has no automatic re-fetch for client credentials
            # (only refresh_token via auto_refresh_url); the documented pattern
            # is to catch TokenExpiredError and fetch a new token.
            rec.extra["token_expired_error_raised"] = True
            rec.add_token(fetch())
            rec.statuses.append(session.get(args.users_url, timeout=args.timeout).status_code)
        rec.refetched_automatically = False if len(rec.token_responses) > before else None
    return rec.output()


# ------------------------------------------------------------------ ConnId ---

def connid_token_body(args) -> str:
    # AbstractSCIMService.getBearerToken(): a StringBuilder starting with "&",
    # values appended as-is (no URL-encoding), no grant_type, username/password
    # only when both are configured.
    body = f"&client_id={args.client_id}&client_secret={args.client_secret}"
    if args.connid_username is not None:
        body += f"&username={args.connid_username}&password={args.connid_password}"
    return body


def run_connid(args, rec: Recorder) -> dict:
    rec.extra["library_versions"] = {"requests": requests.__version__}
    rec.extra["token_node"] = args.token_node
    session = requests.Session()
    # Roughly what CXF's URLConnection conduit puts on the wire; drop requests'
    # own Accept-Encoding (HttpURLConnection does not send one).
    session.headers.clear()
    session.headers.update({"User-Agent": CONNID_USER_AGENT, "Cache-Control": "no-cache",
                            "Pragma": "no-cache"})
    body = connid_token_body(args)
    rec.extra["token_request_body_sent"] = body
    state = {"token": None, "fetched_at": None, "expires_in": None}

    def get_bearer_token():
        resp = session.post(
            args.token_url,
            data=body.encode("utf-8"),
            headers={"Content-Type": CONNID_ACCESS_TOKEN_CONTENT_TYPE,
                     "Accept": CONNID_ACCESS_TOKEN_ACCEPT},
            timeout=args.timeout,
        )
        rec.token_response_hook(resp)
        try:
            result = resp.json()
        except ValueError:
            result = None
        node = result.get(args.token_node) if isinstance(result, dict) else None
        # Jackson: hasNonNull(nodeId) then .textValue() (null unless a JSON string)
        if not isinstance(node, str):
            return None, resp, result
        state.update(token=node, fetched_at=time.time(), expires_in=result.get("expires_in"))
        rec.add_token({**result, "access_token": node})
        return node, resp, result

    token, resp, result = get_bearer_token()
    if token is None:
        if args.expect_error:
            err = result.get("error") if isinstance(result, dict) else None
            desc = result.get("error_description") if isinstance(result, dict) else resp.text
            out = rec.error_output(err, desc)
            out["connector_would_report"] = "No access token found - " + resp.text
            return out
        raise ScriptError(f"No access token found - {resp.status_code} {resp.text}")
    if args.expect_error:
        out = rec.error_output(None, None)
        out["unexpected_success"] = True
        return out

    def execute_and_retry(retry=0):
        r = session.get(
            args.users_url,
            headers={"Authorization": f"Bearer {state['token']}",
                     "Content-Type": CONNID_SCIM_CONTENT_TYPE, "Accept": CONNID_SCIM_ACCEPT},
            timeout=args.timeout,
        )
        rec.statuses.append(r.status_code)
        if r.status_code == 401 and retry < CONNID_MAX_RETRIES:
            new_token, tresp, _ = get_bearer_token()  # getBearerToken(true)
            if new_token is None:
                raise ScriptError(f"No access token found - {tresp.status_code} {tresp.text}")
            return execute_and_retry(retry + 1)
        return r

    execute_and_retry()

    if args.wait_expiry:
        if not isinstance(state["expires_in"], (int, float)):
            raise ScriptError("token response has no numeric expires_in; cannot wait for expiry")
        # the connector itself ignores expires_in and relies on the 401 + retry
        old = state["token"]
        sleep_past(state["fetched_at"] + state["expires_in"], args.expiry_margin)
        before, first = len(rec.token_responses), len(rec.statuses)
        execute_and_retry()  # expect 401 with the old token, then re-fetch + retry
        rec.expired_token_status = rec.statuses[first]
        rec.refetched_automatically = len(rec.token_responses) > before and state["token"] != old
    return rec.output()


def main(argv=None) -> int:
    args = parse_args(argv)
    rec = Recorder(args.mode)
    try:
        if args.mode == "authlib-basic":
            out = run_authlib(args, rec, "client_secret_basic")
        elif args.mode == "authlib-post":
            out = run_authlib(args, rec, "client_secret_post")
        elif args.mode == "oauthlib-backend":
            out = run_oauthlib(args, rec)
        else:
            out = run_connid(args, rec)
    except ScriptError as e:
        print(f"oauth_client.py {args.mode}: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - anything else is unexpected too
        print(f"oauth_client.py {args.mode}: unexpected {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
