"""Logs, metrics and the HTTP app factory that every service uses."""
