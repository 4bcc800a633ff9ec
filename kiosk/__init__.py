"""The ticket kiosk: buttons, printer, numbering and durable delivery of ticket events."""
