"""The city tier's notifier: Web Push to tracking pages' subscribers (docs/architecture.md, "notifier/")."""
