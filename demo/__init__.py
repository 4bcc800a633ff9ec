"""`make demo`: a simulated office on one machine (see demo/__main__.py)."""
