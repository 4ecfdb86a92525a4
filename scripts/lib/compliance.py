"""Runs the scim2-tester compliance checks against a running server.

Usage: compliance.py BASE_URL TOKEN

Exits non-zero on any result other than SUCCESS, except the exceptions
listed in EXCEPTIONS, each justified, and each recognised narrowly.
"""

import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def only_member_display_differs(result) -> bool:
    """The server fills in each member's `display` (readOnly) from the
    member's name, as Rauthy needs (it compares memberships by it); the
    checker expects the members exactly as it sent them, without `display`.
    Accepted only when the members differ in nothing but `display`."""
    if result.title not in ("check_add_attribute", "check_replace_attribute"):
        return False
    if "'members'" not in (result.reason or ""):
        return False
    data = result.data or {}
    sent, got = data.get("expected"), data.get("actual")
    if sent is None or got is None:
        return False
    strip = lambda ms: sorted((m.value, m.type, str(m.ref)) for m in ms)
    return strip(sent) == strip(got)


EXCEPTIONS = [only_member_display_differs]


def main() -> int:
    url, token = sys.argv[1], sys.argv[2]
    client = SyncSCIMClient(Client(base_url=url, headers={"Authorization": f"Bearer {token}"}))
    client.discover()
    results = check_server(client)
    failed = 0
    excused = 0
    for r in results:
        if r.status == Status.SUCCESS:
            continue
        if any(e(r) for e in EXCEPTIONS):
            excused += 1
            print(f"EXCUSED {r.status.name} {r.title}: {r.reason}")
            continue
        failed += 1
        print(f"{r.status.name} {r.title}: {r.reason}\n  {r.data!r}")
    succeeded = sum(1 for r in results if r.status == Status.SUCCESS)
    # The plain closing-line format: excused checks count as skipped.
    print(f"scim2-tester: {succeeded} passed, {failed} failed, {excused} skipped")
    return 1 if failed or not succeeded else 0


if __name__ == "__main__":
    sys.exit(main())
