"""The display's announcements: a chime and, optionally, a spoken call — and sound never blocks drawing.

Why it is built this way:

- The render loop only calls `Announcer.announce()` (announcer.py), which appends to a queue under a
  lock and returns. Speech synthesis (an `espeak-ng` subprocess, speech.py) and playback (waiting for
  `pygame.mixer` channels to finish, audio.py) happen on the announcer's own worker thread, so a slow
  synthesiser, a busy audio device or a long sentence can never delay a frame.
- Calls are announced in order: one chime per batch handed to `announce()` (several calls in the same
  second share one chime), then each call spoken in every configured language.
- The queue is bounded. When more than `max_pending` calls wait to be spoken, they are replaced by ONE
  summary ("Aufgerufen: A 42, A 43 und P 7. Bitte schauen Sie auf die Anzeige.") — a burst of calls is
  summarised, never read out as a minute-long backlog while the board has long moved on.
- Failures degrade, they do not stop the board: without an audio device the announcer runs silently
  (it still records what it would have played); without a working `espeak-ng` it keeps the chime.
  Each of these is logged once, not once per call.

The chime is generated in code (chime.py), so there is no sound file to ship or license.
"""
