"""The waiting-room display: call → flipped frame, CPU, memory, frame render time, and what it wakes for.

Everything runs with SDL's dummy video and audio drivers (SDL_VIDEODRIVER=dummy, SDL_AUDIODRIVER=dummy),
at 1920×1080 unless said otherwise, and beside a baseline measured in the same run.

1. **Call → frame.** The display runs as in production, in its own process: `display.cli.main(["run",
   "--config", X])` (chime on through the dummy audio device, speech off, the example config's
   defaults otherwise) against a private mosquitto. No product code is changed: the child
   (`python -m bench.display.child CONFIG`) wraps `pygame.display.update` before starting the
   CLI, and after each flip that shows a new `calls` seq it writes `F <monotonic_ns> <seq> <label>` to
   stdout (CLOCK_MONOTONIC is system-wide on Linux, so the parent's and the child's clocks agree).
   The benchmark publishes retained `calls` states (QoS 1, seq + 1 and a new label each, the hub's 10
   most recent calls) 100–180 ms apart and pairs the time just before each publish with the first flip
   whose seq is at least the call's (a frame showing a later seq also shows the call, among the recent
   ones). Interleaved with every call, the baseline: a bare publish → receive through the same broker
   (two connections of the benchmark process).
2. **CPU and memory.** CPU share of the display process (utime + stime of /proc/PID/stat) over 10 s idle,
   the clock ticking, and over a burst of 10 calls/s for 5 s. Baseline for idle: a bare pygame-ce
   process running at the same time (`bench.display.floor`: the same dummy screen and mixer, a 1 s timer, a loop of
   `pygame.event.wait(1000)` and nothing else). RSS (VmRSS) and PSS of the display process beside the
   summed RSS and PSS of the whole process tree of headless Chromium showing an equivalent static page
   (same texts, same font, 1920×1080), 5 s after its start, and Chromium's CPU share over 3 s after that.
3. **Frame render time**, in-process without a broker (`bench.display.render`, its own process): `Renderer.render`
   + `pygame.display.update(rects)` at 1920×1080 and 3840×2160, for a full redraw (`invalidate()` first)
   and for a dirty update (a new call: the newest and recent regions), each call with a new label
   (A101, A102, …) so the text caches miss as they do for real calls. Baseline, interleaved: filling the
   same rectangles with a colour and `update(rects)` (the pixel-pushing floor, no text).
   With the dummy driver `update()` copies nothing; on a Pi (kmsdrm) it uploads the rectangles.
   Then 150 more calls, each drawn through its whole highlight cycle (flash on, flash off, steady,
   normal: every colour variant of its label), and the size of the FontBook's text-surface cache and the
   process's RSS after them — the display process of part 2 never gets there, its calls come too fast.
4. **Machine-independent counts** from the child (stdin line `S` → `S <ns> <wakeups> <frames>
   <pixels_drawn> <text renders> <cached surfaces> <their bytes>`): event-loop wake-ups per second,
   frames and pixels redrawn per second while idle and during the burst; and, from
   /proc/PID/task/*/status, the context switches per second of each thread: what the process really
   wakes for, under the Python loop.

    .venv/bin/python -m bench.display [--calls 200] [--markdown]

`bench.display.measure.run()` returns the table rows (devtools.stats.Row) for `python -m bench display`.
The parts: `child.py` (the display process and its flips), `floor.py` (the pygame-ce baseline),
`render.py` (frame render time), `data.py` (what the hub would publish), `chromium.py`, `measure.py`,
`report.py`.
"""
