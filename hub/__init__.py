"""The hub: the office's queue authority — the only writer of queue state."""
