"""The display's alternative: headless Chromium showing an equivalent static page (same texts, same font,
1920×1080): the RSS and PSS of its whole process tree and its CPU share."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.procfs import cpu_ticks, process_tree, pss_kib, status_kib
from devtools.children import die_with_parent

CHROMIUM_SETTLE_S = 5.0
CHROMIUM_CPU_S = 3.0
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1920,1080")


BOARD_HTML = """<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>Bürgerbüro Mitte</title>
<style>
  html, body {{ margin: 0; width: 1920px; height: 1080px; overflow: hidden; background: #000; color: #fff;
               font-family: "DejaVu Sans", sans-serif; }}
  header {{ display: flex; justify-content: space-between; align-items: center; height: 108px; padding: 0 22px; }}
  header h1 {{ font-size: 59px; margin: 0; }}
  header .day {{ color: #cdcdcd; font-size: 43px; }} header .time {{ font-size: 67px; font-weight: bold; }}
  main {{ display: grid; grid-template-columns: 1092px 1fr; gap: 22px; padding: 0 22px; height: 820px; }}
  .caption {{ color: #cdcdcd; font-size: 60px; }}
  .label {{ color: #ffd400; font-size: 240px; font-weight: bold; text-align: center; line-height: 1.1; }}
  .counter {{ color: #ffd400; font-size: 120px; font-weight: bold; text-align: center; }}
  .recent div {{ font-size: 66px; line-height: 118px; }} .recent b {{ display: inline-block; width: 330px; }}
  .services div {{ font-size: 48px; }} .dot {{ display: inline-block; width: 28px; height: 28px;
                                             border-radius: 50%; margin-right: 20px; }}
  footer {{ text-align: center; font-size: 48px; height: 86px; line-height: 86px; }}
</style></head>
<body>
<header><h1>Bürgerbüro Mitte</h1><div><span class="day">Mi 25.11.2026</span>
  <span class="time">15:42</span></div></header>
<main>
  <section>
    <div class="caption">Aufruf</div>
    <div class="label">A042</div>
    <div class="counter">→ Platz 3</div>
    <div class="services"><div class="caption">Wartende</div>
      <div><span class="dot" style="background:#ffd400"></span>Allgemeine Anliegen — 14 wartend</div>
      <div><span class="dot" style="background:#28c85a"></span>Abholung Ausweis / Pass — 3 wartend</div>
    </div>
  </section>
  <section class="recent"><div class="caption">Zuletzt aufgerufen</div>
{recent}
  </section>
</main>
<footer>Heute bis 18 Uhr geöffnet · Open until 6 pm today</footer>
</body></html>
"""
RECENT_ROWS = (("P017", "Platz 6"), ("A041", "Platz 1"), ("A040", "Platz 2"), ("P016", "Platz 6"),
               ("A039", "Platz 4"), ("A038", "Platz 5"))


@dataclass
class ChromiumResult:
    processes: int
    rss_kib: int
    pss_kib: int
    cpu_share: float
    cpu_s: float
    version: str


def measure_chromium(work: Path) -> tuple[ChromiumResult | None, str]:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        return None, "chromium not installed (apt-get install chromium)"
    page = work / "board.html"
    recent = "\n".join(f"    <div><b>{label}</b>→ {counter}</div>" for label, counter in RECENT_ROWS)
    page.write_text(BOARD_HTML.format(recent=recent), encoding="utf-8")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False,
                             timeout=30).stdout.strip()
    profile = work / "chromium-profile"
    with (work / "chromium.log").open("ab") as log:
        proc = subprocess.Popen([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", page.as_uri()],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                preexec_fn=die_with_parent)
    try:
        time.sleep(CHROMIUM_SETTLE_S)
        if proc.poll() is not None:
            return None, f"chromium exited with code {proc.returncode} (see chromium.log)"
        tree = process_tree(proc.pid)
        rss = sum(status_kib(pid, "VmRSS") for pid in tree)
        pss = sum(pss_kib(pid) for pid in tree)
        before = {pid: cpu_ticks(pid) for pid in tree}
        started = time.monotonic()
        time.sleep(CHROMIUM_CPU_S)
        ticks = 0
        for pid in process_tree(proc.pid):
            with contextlib.suppress(OSError):
                ticks += cpu_ticks(pid) - before.get(pid, 0)
        seconds = time.monotonic() - started
        share = ticks / os.sysconf("SC_CLK_TCK") / seconds
        return ChromiumResult(len(tree), rss, pss, share, seconds, version), ""
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while process_tree(proc.pid) and time.monotonic() < deadline:  # children exit after the browser
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(profile, ignore_errors=True)
