"""Throughput and latency on loopback, pair by pair: this service (local
front door, embedded store), the physical limit (a bare axum server) and a
peer (the Python reference server scim2-server), with wrk.

Usage: http_bench.py OURS_BINARY HELLO_BINARY PEER_COMMAND OUT_JSON
Prints Markdown tables; writes the raw figures to OUT_JSON.
"""

import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
DURATION = os.environ.get("BENCH_DURATION", "2s")
CONNECTIONS = [1, 16, 64]
TOKEN = "bench-token"
MEMBERS = 200


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, name):
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited before it listened")
            time.sleep(0.1)
    raise SystemExit(f"{name} did not listen on {port}")


def call(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {TOKEN}")
    req.add_header("Content-Type", "application/scim+json")
    with urllib.request.urlopen(req) as resp:
        text = resp.read()
        return json.loads(text) if text else None


def setup(base):
    """One user to read and patch, a group, and members to add in turn."""
    user = call(base, "POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                         "userName": "bench-user@example.com", "displayName": "Bench"})
    group = call(base, "POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                           "displayName": "Bench Group"})
    members = []
    for i in range(MEMBERS):
        u = call(base, "POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                          "userName": f"member{i}@example.com"})
        members.append(u["id"])
    return user["id"], group["id"], members


def lua(method, body_kind, members):
    """A wrk script: the method, headers, and a body made per request. New
    userNames carry a nonce per script, so runs never collide (409)."""
    ids = ",".join(f'"{m}"' for m in members)
    nonce = os.urandom(6).hex()
    return f"""
wrk.method = "{method}"
wrk.headers["Authorization"] = "Bearer {TOKEN}"
wrk.headers["Content-Type"] = "application/scim+json"
local members = {{{ids}}}
local counter = 0
local thread_id = 0
setup = function(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end
request = function()
  counter = counter + 1
  local kind = "{body_kind}"
  local body = nil
  if kind == "user" then
    body = '{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u-{nonce}-' .. (tid or 0) .. '-' .. counter .. '@example.com"}}'
  elseif kind == "patch_user" then
    body = '{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{{"op":"replace","path":"displayName","value":"Bench ' .. counter .. '"}}]}}'
  elseif kind == "add_member" then
    local m = members[(counter % #members) + 1]
    body = '{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{{"op":"add","path":"members","value":[{{"value":"' .. m .. '"}}]}}]}}'
  end
  if kind == "patch_user" then
    -- A different user each time, as an IdP updates many users.
    return wrk.format(nil, (wrk.path:gsub("/Users/.*", "/Users/" .. members[(counter % #members) + 1])), nil, body)
  end
  return wrk.format(nil, nil, nil, body)
end
"""


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def parse_latency(text, pct):
    m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def run_wrk(url, conns, script):
    threads = min(conns, 2)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(conns), "-d", DURATION, "--latency", "-s", script, url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    return {"rps": rps, "p50_ms": parse_latency(out, 50), "p99_ms": parse_latency(out, 99), "non_2xx": errors}


def med(values):
    return statistics.median(values), min(values), max(values)


def main():
    ours_bin, hello_bin, peer_cmd, out_json = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    tmp = tempfile.mkdtemp()
    procs = []
    try:
        p_ours, p_hello, p_peer = free_port(), free_port(), free_port()
        env = dict(os.environ, SCIM_LISTEN_ADDR=f"127.0.0.1:{p_ours}", SCIM_TOKEN=TOKEN,
                   SCIM_DB_PATH=os.path.join(tmp, "bench.redb"), RUST_LOG="warn")
        env.pop("TABLE_NAME", None)
        ours = subprocess.Popen([ours_bin], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        hello = subprocess.Popen([hello_bin, f"127.0.0.1:{p_hello}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peer = subprocess.Popen(peer_cmd.split() + ["--hostname", "127.0.0.1", "--port", str(p_peer), "--bearer-token", TOKEN],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs = [ours, hello, peer]
        wait_port(p_ours, ours, "the service")
        wait_port(p_hello, hello, "hello_limit")
        wait_port(p_peer, peer, "scim2-server")
        targets = {"ours": f"http://127.0.0.1:{p_ours}/scim/v2", "peer": f"http://127.0.0.1:{p_peer}/v2"}
        fixtures = {name: setup(base) for name, base in targets.items()}
        filt = "filter=userName%20eq%20%22bench-user%40example.com%22"
        rows = [
            ("GET user by id", "GET", lambda f: f"/Users/{f[0]}", "none"),
            ('GET /Users?filter=userName eq', "GET", lambda f: f"/Users?{filt}", "none"),
            ("POST user", "POST", lambda f: "/Users", "user"),
            ("PATCH user (replace one attribute)", "PATCH", lambda f: f"/Users/{f[0]}", "patch_user"),
            ("PATCH group (add one member)", "PATCH", lambda f: f"/Groups/{f[1]}", "add_member"),
            ("GET group, excludedAttributes=members", "GET", lambda f: f"/Groups/{f[1]}?excludedAttributes=members", "none"),
        ]
        limit_script = os.path.join(tmp, "limit.lua")
        with open(limit_script, "w") as fh:
            fh.write(lua("GET", "none", []))
        raw = {"runs": RUNS, "duration": DURATION, "rows": []}
        limit = {}
        for c in CONNECTIONS:
            limit[c] = [run_wrk(f"http://127.0.0.1:{p_hello}/", c, limit_script) for _ in range(RUNS)]
        raw["limit"] = limit
        print(f"## Throughput and latency on loopback ({RUNS} runs of {DURATION} each, wrk, medians [min–max])\n")
        print("Ours: the local front door on the embedded store; peer: scim2-server (Python, in memory); "
              "limit: a bare axum server on the same machine.\n")
        print("| operation | conns | ours req/s | ours p50 / p99 ms | peer req/s | ours/peer | ours/limit |")
        print("|---|---|---|---|---|---|---|")
        for name, method, path, kind in rows:
            row = {"operation": name, "by_connections": {}}
            for c in CONNECTIONS:
                results = {"ours": [], "peer": []}
                for _ in range(RUNS):
                    for target in ("ours", "peer"):
                        script = os.path.join(tmp, f"{target}.lua")
                        with open(script, "w") as fh:
                            fh.write(lua(method, kind, fixtures[target][2]))
                        results[target].append(run_wrk(targets[target] + path(fixtures[target]), c, script))
                row["by_connections"][c] = results
                o = med([r["rps"] for r in results["ours"]])
                p = med([r["rps"] for r in results["peer"]])
                p50 = statistics.median([r["p50_ms"] for r in results["ours"] if r["p50_ms"] is not None] or [0])
                p99 = statistics.median([r["p99_ms"] for r in results["ours"] if r["p99_ms"] is not None] or [0])
                lim = statistics.median([r["rps"] for r in limit[c]])
                errors = sum(r["non_2xx"] for r in results["ours"])
                flag = f" ({errors} non-2xx)" if errors else ""
                print(f"| {name} | {c} | {o[0]:.0f} [{o[1]:.0f}–{o[2]:.0f}]{flag} | {p50:.2f} / {p99:.2f} | "
                      f"{p[0]:.0f} [{p[1]:.0f}–{p[2]:.0f}] | {o[0] / p[0]:.1f}× | {o[0] / lim:.2f} |")
            raw["rows"].append(row)
        lims = " · ".join(f"{c} conns: {statistics.median([r['rps'] for r in limit[c]]):.0f} req/s" for c in CONNECTIONS)
        print(f"\nLimit (bare axum, GET): {lims}")
        with open(out_json, "w") as fh:
            json.dump(raw, fh, indent=1)
    finally:
        for p in procs:
            p.kill()


if __name__ == "__main__":
    main()
