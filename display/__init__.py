"""The waiting-room display: calls, queue and announcements on a screen, with a chime."""
