"""The ticket printer: one interface (base.py), one module per backend, the `[printer]` table."""
