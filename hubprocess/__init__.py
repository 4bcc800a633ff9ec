"""The hub's process: the hub and, with `[web]` in its hub.toml, the web tier with the staff pages.

The only package that knows both `hub` and `web`: it reads hub.toml (the hub's tables through
hub/config.py, `[web]` through web/config.py), hands the web the hub's accounts as its account
directory, starts both and runs `wartemarke-hub`.
"""
