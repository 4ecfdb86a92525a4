"""Peak memory of one non-indexed filter over large users: the local front
door (embedded store, release build) is loaded with USERS users of about
USER_KB KB each, restarted so that loading leaves nothing in its memory,
then asked one `GET /Users?filter=nickName co "zz"&count=1`, which examines
every user and matches none. Reports the process's resident memory after
start and its peak (VmHWM) after the request, per binary, on loopback only.

Usage: memory_bench.py OUT_JSON [LABEL=]BINARY...
The users are loaded once, by the first binary, and each binary reads a
copy of the same file. Prints a Markdown table; writes the figures to
OUT_JSON.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

USERS = int(os.environ.get("BENCH_MEMORY_USERS", "1000"))
USER_KB = int(os.environ.get("BENCH_MEMORY_USER_KB", "390"))
TOKEN = "bench-token"
FILTER = 'nickName co "zz"'


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise SystemExit(f"no {field} for process {pid}")


class Server:
    """The local front door on a free loopback port, over one store file."""

    def __init__(self, binary, db, tmp):
        env = dict(os.environ)
        env.update({
            "SCIM_DB_PATH": db,
            "SCIM_TOKEN": TOKEN,
            "SCIM_LISTEN_ADDR": "127.0.0.1:0",
            "SCIM_TENANTS_FILE": os.path.join(tmp, "tenants.json"),
            "RUST_LOG": "warn",
        })
        env.pop("TABLE_NAME", None)
        self.proc = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, text=True)
        for line in self.proc.stdout:
            m = re.search(r"SCIM base URL: (http://127\.0\.0\.1:\d+\S*)", line)
            if m:
                self.base = m.group(1)
                break
        else:
            raise SystemExit(f"{binary} exited before it listened")

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {TOKEN}")
        req.add_header("Content-Type", "application/scim+json")
        with urllib.request.urlopen(req, timeout=120) as resp:
            text = resp.read()
            return json.loads(text) if text else None

    def stop(self):
        # SIGINT: every version of the front door stops gracefully on it.
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)


def load(binary, db, tmp):
    server = Server(binary, db, tmp)
    filler = "x" * (USER_KB * 1024 - 200)
    for i in range(USERS):
        server.call("POST", "/Users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": f"mem{i:05}@example.com",
            "title": filler,
        })
    server.stop()


def measure(binary, db, tmp):
    server = Server(binary, db, tmp)
    started_kb = status_kb(server.proc.pid, "VmRSS")
    query = urllib.parse.urlencode({"filter": FILTER, "count": "1", "excludedAttributes": "groups"})
    t0 = time.monotonic()
    body = server.call("GET", f"/Users?{query}")
    seconds = time.monotonic() - t0
    peak_kb = status_kb(server.proc.pid, "VmHWM")
    server.stop()
    if body.get("totalResults") != 0:
        raise SystemExit(f"the filter matched: {body.get('totalResults')}")
    return {"start_mb": round(started_kb / 1024), "peak_mb": round(peak_kb / 1024),
            "seconds": round(seconds, 2)}


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    out, binaries = sys.argv[1], sys.argv[2:]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        loaded = os.path.join(tmp, "loaded.redb")
        first = binaries[0].split("=", 1)[-1]
        load(first, loaded, tmp)
        stored_mb = os.path.getsize(loaded) / (1 << 20)
        for spec in binaries:
            label, _, binary = spec.rpartition("=")
            db = os.path.join(tmp, "copy.redb")
            shutil.copyfile(loaded, db)
            results[label or binary] = measure(binary, db, tmp)
            os.remove(db)
    print(f"\n### Memory: one `filter={FILTER}&count=1` over {USERS:,} users of {USER_KB} KB "
          f"(store file {stored_mb:,.0f} MB)\n")
    print("| binary | RSS after start | peak RSS after the request | request time |")
    print("|---|---:|---:|---:|")
    for label, r in results.items():
        print(f"| {label} | {r['start_mb']:,} MB | {r['peak_mb']:,} MB | {r['seconds']} s |")
    with open(out, "w") as f:
        json.dump({"users": USERS, "user_kb": USER_KB, "stored_mb": round(stored_mb),
                   "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
