"""Page throughput at scale: the app under gunicorn against the floor, page by page.

Usage (after bench/seed.py built FOLDER):
    .venv/bin/python bench/pages.py --folder /tmp/pingshen-10k [--database-url URL]
        [--seconds 10] [--connections 4] [--json OUT]

Starts the app (``gunicorn --workers 2 wsgi:app``) and the floor (``bench/floor.py``, a minimal
Flask + Flask-SQLAlchemy route rendering a 50-row table from the same database) on loopback,
logs in as the people who use each page (through the real login form), and drives every page
with wrk (one thread, CONNECTIONS connections, SECONDS seconds after a 2 s warm-up); the floor
is measured before and after the pages and its mean is the reference. Any response other than
2xx/3xx fails the run. Afterwards the peak resident memory (VmHWM) of each app worker is read.
Prints a table and one JSON line (written to OUT too).

The public verification page logs every lookup and allows VERIFY_MAX_PER_MINUTE per address; wrk
sends thousands from one address, so the limit is raised for the run (the lookup, its log row
and the limit's count query are all still made).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PASSWORD = "bench-password"
# Flask-Login's strong session protection ties a login to the browser's address and user agent:
# every request of the run (the login, the checks, wrk) sends this one.
AGENT = "pingshen-bench"


@dataclass
class Page:
    """One benchmarked page: its name, who looks at it, and its path."""

    name: str
    user: str | None
    path: str


@dataclass
class Result:
    """wrk's figures for one page."""

    name: str
    path: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    kb: float
    ratio: float = 0.0
    p99_vs_floor: float = 0.0


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pick_pages(url: str) -> tuple[list[Page], int]:
    """The pages, with ids of typical objects read from the seeded database; and the big call."""
    engine = create_engine(url)
    with engine.connect() as conn:
        big = conn.scalar(text("SELECT id FROM calls ORDER BY id LIMIT 1"))
        entry_id, applicant = conn.execute(text(
            "SELECT a.id, u.username FROM applications a JOIN users u ON u.id = a.applicant_id "
            "WHERE a.call_id = :c AND a.state = 'city_review' AND u.username LIKE 'u%' "
            "ORDER BY a.id LIMIT 1"), {"c": big}).one()
        loads = conn.execute(text(
            "SELECT r.expert_id, count(*) AS n FROM review_assignments r JOIN applications a "
            "ON a.id = r.application_id WHERE a.call_id = :c GROUP BY r.expert_id "
            "HAVING sum(CASE WHEN r.status = 'draft' THEN 1 ELSE 0 END) > 0 ORDER BY n, "
            "r.expert_id"), {"c": big}).all()
        expert_id = loads[len(loads) // 2][0]  # the median load of those with a draft open
        expert = conn.scalar(text("SELECT username FROM users WHERE id = :e"), {"e": expert_id})
        sheet = conn.scalar(text(
            "SELECT r.id FROM review_assignments r JOIN applications a ON a.id = r.application_id"
            " WHERE a.call_id = :c AND r.expert_id = :e AND r.status = 'draft' ORDER BY r.id "
            "LIMIT 1"), {"c": big, "e": expert_id})
        code = conn.scalar(text("SELECT code FROM certificates ORDER BY id DESC LIMIT 1"))
        count = conn.scalar(select(func.count()).select_from(text("applications")))
    engine.dispose()
    pages = [
        Page("login page", None, "/login"),
        Page("applicant home", applicant, "/my/"),
        Page("application detail", applicant, f"/applications/{entry_id}"),
        Page("reviewer queue", expert, "/reviews/"),
        Page("scoring form", expert, f"/reviews/{sheet}"),
        Page("call list, filtered, page 2", "city",  # 50 rows at either size
             f"/admin/calls/{big}?state=city_review&page=2"),
        Page("ranking of a call", "city", f"/admin/calls/{big}/ranking"),
        Page("district dashboard", "d1_admin", "/district/"),
        Page("public notice page", None, "/notices"),
        Page("verify page", None, f"/verify/{code}"),
    ]
    return pages, int(count or 0)


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a server process in its own process group, its output in `log`."""
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(port: int, path: str = "/login", timeout: float = 60) -> None:
    """Wait until the server answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"server on port {port} did not answer {path} within {timeout} s")


def login(port: int, username: str) -> str:
    """Log in through the form; the Cookie header to send."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", AGENT)]
    page = opener.open(f"http://127.0.0.1:{port}/login").read().decode()
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, "no CSRF token on the login page"
    body = urllib.parse.urlencode({"username": username, "password": PASSWORD,
                                   "csrf_token": match.group(1)}).encode()
    answer = opener.open(f"http://127.0.0.1:{port}/login", body)
    if "/login" in answer.geturl():
        raise SystemExit(f"login as {username} failed")
    return "; ".join(f"{c.name}={c.value}" for c in jar)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Treat a redirect as an answer (a page that redirects to the login page is not served)."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def check(port: int, page: Page, cookie: str) -> int:
    """The page answers 200 for its user, not a redirect; the size of its body in bytes.
    (wrk counts a redirect as a success: this check is what makes its figures the page's.)"""
    headers = {"User-Agent": AGENT} | ({"Cookie": cookie} if cookie else {})
    request = urllib.request.Request(f"http://127.0.0.1:{port}{page.path}", headers=headers)
    try:
        with urllib.request.build_opener(NoRedirect).open(request) as answer:
            return len(answer.read())
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"{page.name} ({page.path}): {exc.code}") from None


def wrk(url: str, cookie: str, seconds: int, connections: int) -> tuple[float, float, float, int]:
    """Requests/s, p50 and p99 in ms, and the number of requests, from one wrk run."""
    headers = ["-H", f"User-Agent: {AGENT}"] + (["-H", f"Cookie: {cookie}"] if cookie else [])
    subprocess.run(["wrk", "-t1", f"-c{connections}", "-d2s", *headers, url], check=True,
                   capture_output=True)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "--timeout", "60s", *headers, url],
                         check=True, capture_output=True, text=True).stdout
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise SystemExit(f"{url}: {match.group(1)} responses were errors\n{out}")
    if "Socket errors" in out:
        raise SystemExit(f"{url}: socket errors\n{out}")

    def millis(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rps, millis("50%"), millis("99%"), total


def peak_rss_mb(master: int) -> list[float]:
    """Peak resident memory (VmHWM) of each worker of a gunicorn master, in MB."""
    children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True,
                              text=True).stdout.split()
    peaks = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        peaks.append(int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024)  # type: ignore[union-attr]
    return peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--only", default="", help="comma-separated page names to run")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{args.folder / 'pingshen.db'}"
    pages, entries = pick_pages(url)
    if args.only:
        pages = [p for p in pages if p.name in args.only.split(",")]
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench-secret",
               UPLOAD_FOLDER=str(args.folder / "uploads"),
               CERTIFICATE_FOLDER=str(args.folder / "certificates"),
               EXPORT_FOLDER=str(args.folder / "exports"),
               IMPORT_FOLDER=str(args.folder / "imports"),
               JOB_QUEUE_URL=f"sqlite:///{args.folder / 'jobs.db'}",
               VERIFY_MAX_PER_MINUTE=str(10**9), SECURITY_LOG="",
               PYTHONPATH=str(ROOT))
    app_port, floor_port = free_port(), free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    servers = [
        start([gunicorn, "--workers", "2", "--bind", f"127.0.0.1:{app_port}", "wsgi:app"], env,
              args.folder / "gunicorn-app.log"),
        start([gunicorn, "--workers", "2", "--bind", f"127.0.0.1:{floor_port}",
               "bench.floor:app"], env, args.folder / "gunicorn-floor.log"),
    ]
    try:
        wait_ready(app_port)
        wait_ready(floor_port, "/")
        cookies = {user: login(app_port, user) for user in {p.user for p in pages} if user}
        sizes = {page.name: check(app_port, page, cookies.get(page.user or "", ""))
                 for page in pages}
        floor_url = f"http://127.0.0.1:{floor_port}/?call=1&offset=50"
        floors = [wrk(floor_url, "", args.seconds, args.connections)]
        results = []
        for page in pages:
            rps, p50, p99, total = wrk(f"http://127.0.0.1:{app_port}{page.path}",
                                       cookies.get(page.user or "", ""), args.seconds,
                                       args.connections)
            # still served (not a redirect to the login page) after the run
            check(app_port, page, cookies.get(page.user or "", ""))
            results.append(Result(page.name, page.path, rps, p50, p99, total,
                                  kb=round(sizes[page.name] / 1024, 1)))
            print(f"{page.name:30} {rps:8.1f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms",
                  flush=True)
        floors.append(wrk(floor_url, "", args.seconds, args.connections))
        memory = peak_rss_mb(servers[0].pid)
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
        for server in servers:
            server.wait(timeout=30)
    floor_rps = sum(f[0] for f in floors) / len(floors)
    floor_p50 = sum(f[1] for f in floors) / len(floors)
    floor_p99 = sum(f[2] for f in floors) / len(floors)
    for result in results:
        result.ratio = round(result.rps / floor_rps, 3)
        result.p99_vs_floor = round(result.p99_ms / floor_p99, 2)
    print(f"{'floor':30} {floor_rps:8.1f} req/s  p50 {floor_p50:7.2f} ms  p99 {floor_p99:7.2f} ms"
          f"  (runs: {', '.join(f'{f[0]:.0f}' for f in floors)} req/s)")
    for result in results:
        print(f"{result.name:30} ratio {result.ratio:5.2f}  p99 x{result.p99_vs_floor:5.2f}")
    summary = {"entries": entries, "database": url.split(":")[0].split("+")[0],
               "seconds": args.seconds, "connections": args.connections,
               "floor": {"rps": round(floor_rps, 1), "p50_ms": round(floor_p50, 2),
                         "p99_ms": round(floor_p99, 2), "runs_rps": [f[0] for f in floors]},
               "pages": [asdict(r) for r in results],
               "web_worker_peak_rss_mb": [round(m, 1) for m in memory]}
    line = json.dumps(summary, ensure_ascii=False)
    print(line)
    if args.json:
        args.json.write_text(line + "\n")


if __name__ == "__main__":
    main()
