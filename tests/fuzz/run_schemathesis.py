#!/usr/bin/env python3
"""API fuzzing with schemathesis against a real `tillyard serve --demo` (issue 10, item 3).

Starts the built server binary on a temporary data folder and a free 127.0.0.1 port, signs in to the
console as the demo administrator and issues an API token (POST /api/v1/tokens with the session's CSRF
header), then runs `schemathesis run` against the served /openapi.yaml with every operation, the
token, a bounded number of examples per operation, and the checks: no server error (5xx), documented
status codes, content types, response schemas. The server is stopped by its PID at the end; the exit
code is schemathesis's.

Usage: tests/fuzz/run_schemathesis.py [BINARY] [--max-examples N] [--seed N] [--workers N] [-- extra schemathesis args]
BINARY defaults to $TILLYARD_BINARY, else .build/debug/tillyard.
"""
import argparse
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
USERNAME = "admin"
PASSWORD = "Tillyard-demo-1"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# The signed terminal protocol (/terminal/v1) is left out: every request there needs a per-terminal
# HMAC signature over method, path, timestamp, nonce and body, which a generic fuzzer cannot make, so
# all it would ever see is the 401 refusal. Its abuse cases (replayed, re-signed, skewed, oversized,
# malformed) are covered by the terminal protocol tests and `tillyard-bench abuse`.
EXCLUDED_PATHS = r"^/terminal/v1/"
# Revoking tokens is left out too: the fuzzer learns token ids from GET /api/v1/tokens and would revoke
# its own credential, after which every operation answers 401 and nothing else is tested. Revocation
# is covered by the Access API tests.
EXCLUDED_OPERATIONS = ["revokeToken"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, data, port, log):
    env = dict(os.environ, TILLYARD_BCRYPT_COST="4")
    proc = subprocess.Popen([binary, "serve", "--demo", "--host", "127.0.0.1", "--port", str(port), "--data-dir", data,
                             "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before it answered")
        try:
            if urllib.request.urlopen(base + "/health", timeout=2).status == 200:
                return proc, base
        except OSError:
            time.sleep(0.5)
    stop(proc)
    raise RuntimeError("the server did not answer /health within 180 s")


def stop(proc):
    """Stops the server we started, by its PID: SIGTERM, then SIGKILL after 20 s."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def hidden_csrf(html):
    match = re.search(r'name="_csrf" value="([^"]+)"', html)
    if not match:
        raise RuntimeError("no CSRF field on the page")
    return match.group(1)


def api_token(base):
    """Signs in to the console and issues an API token for the demo administrator."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = opener.open(base + "/console/login", timeout=30).read().decode()
    form = urllib.parse.urlencode({"username": USERNAME, "password": PASSWORD, "_csrf": hidden_csrf(login)}).encode()
    opener.open(urllib.request.Request(base + "/console/login", data=form, method="POST"), timeout=30).read()
    csrf = hidden_csrf(opener.open(base + "/console", timeout=30).read().decode())
    body = json.dumps({"name": "schemathesis"}).encode()
    request = urllib.request.Request(base + "/api/v1/tokens", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "X-CSRF-Token": csrf})
    answer = json.loads(opener.open(request, timeout=30).read().decode())
    return answer["token"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("binary", nargs="?",
                        default=os.environ.get("TILLYARD_BINARY", os.path.join(ROOT, ".build", "debug", "tillyard")))
    parser.add_argument("--max-examples", type=int, default=int(os.environ.get("TILLYARD_FUZZ_EXAMPLES", "10")))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("TILLYARD_FUZZ_SEED", "1")))
    # One worker: with two, hypothesis describes strategies with `ast.parse` from two threads at once,
    # which CPython 3.11 does not survive ("AST constructor recursion depth mismatch", a runtime error
    # of the tool, not a finding). The run is bounded by --max-time either way.
    parser.add_argument("--workers", default=os.environ.get("TILLYARD_FUZZ_WORKERS", "1"))
    parser.add_argument("--max-time", type=int, default=int(os.environ.get("TILLYARD_FUZZ_MAX_TIME", "300")),
                        help="time budget of the schemathesis run in seconds")
    parser.add_argument("extra", nargs="*", help="more schemathesis arguments (after --)")
    args = parser.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"no server binary at {args.binary}: run `swift build` first")
    schemathesis = shutil.which("schemathesis") or shutil.which("st")
    command = [schemathesis] if schemathesis else [sys.executable, "-m", "schemathesis.cli"]

    data = tempfile.mkdtemp(prefix="tillyard-fuzz-")
    log = open(os.path.join(data, "server.log"), "w")
    proc = None
    try:
        proc, base = start(args.binary, data, free_port(), log)
        token = api_token(base)
        run = command + ["run", base + "/openapi.yaml", "--url", base,
                         "-H", f"Authorization: Bearer {token}",
                         "--checks", CHECKS,
                         "--exclude-path-regex", EXCLUDED_PATHS,
                         *[option for operation in EXCLUDED_OPERATIONS for option in ("--exclude-operation-id", operation)],
                         "--max-examples", str(args.max_examples), "--seed", str(args.seed),
                         "--workers", str(args.workers), "--max-time", str(args.max_time),
                         "--phases", "examples,coverage,fuzzing",
                         "--generation-database", "none", "--request-timeout", "30",
                         "--report", "junit", "--report-junit-path", os.path.join(data, "junit.xml"),
                         "--no-color"] + args.extra
        print("+ " + " ".join(part if not part.startswith("Authorization") else "Authorization: Bearer …" for part in run), flush=True)
        code = subprocess.call(run, cwd=data)
    finally:
        if proc is not None:
            stop(proc)
        log.close()
    if code != 0:
        # The server's own log helps with a 5xx; kept in the temp folder, the tail printed here.
        with open(os.path.join(data, "server.log")) as server_log:
            tail = server_log.readlines()[-40:]
        print("--- server log (tail) ---\n" + "".join(tail), flush=True)
        print(f"schemathesis found problems (exit {code}); the run's files are in {data}", flush=True)
    else:
        shutil.rmtree(data, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
