"""Time certificate rendering: one warm-up, then N separate PDFs in one process.

Usage: .venv/bin/python bench/certificates_render.py [N]   (default 50)
Prints certs/s, median PDF size and peak RSS; copy the line into bench/RESULTS.md.
"""

from __future__ import annotations

import datetime
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.certificates import CertificateFacts, check_system_libraries, render_certificate  # noqa: E402

HOLDERS = ["王喆", "胡塘街道社区学校教学团队", "李晓燕", "X市第一社区学院“银龄学堂”教学团队"]


def facts(i: int) -> CertificateFacts:
    """Return the i-th sample certificate (names vary, layout stays realistic)."""
    serial = f"PS-2026-SQJY-{i:06d}"
    return CertificateFacts(
        serial=serial, code=f"{i:04d}-M9XD", holder=HOLDERS[i % len(HOLDERS)],
        organisation="X市胡塘街道社区学校" if i % 2 else "",
        programme_title="社区教育优秀团队遴选", call_title="2026年度X市社区教育优秀团队遴选",
        award="优秀团队", issuer="X市教育局\nX市社区教育指导中心",
        issued_on=datetime.date(2026, 6, 8),
        verify_url=f"https://pingshen.example.gov.cn/verify/{serial}",
        text=("在2026年度X市社区教育优秀团队遴选中表现突出，被评为“优秀团队”。",
              "特发此证，以资鼓励。"))


def main(n: int = 50) -> None:
    """Render one warm-up certificate, then ``n`` timed ones, and print the numbers."""
    for problem in check_system_libraries():
        print(problem, file=sys.stderr)
    start = time.perf_counter()
    render_certificate(facts(0))
    warm_up = time.perf_counter() - start
    sizes = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for i in range(1, n + 1):
        sizes.append(len(render_certificate(facts(i))))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"certificates: {n} PDFs in {elapsed:.2f} s = {n / elapsed:.1f} certs/s "
          f"({elapsed / n * 1000:.0f} ms each, {cpu / n * 1000:.0f} ms CPU; "
          f"warm-up incl. fonts {warm_up:.2f} s), "
          f"median {statistics.median(sizes) / 1024:.1f} KB per PDF, peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
