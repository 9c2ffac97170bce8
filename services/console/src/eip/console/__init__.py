"""The operator console: one web page to watch markets, books, keys and the platform itself.

A service of its own that talks only to the other services' public HTTP APIs, with the token
of the operator who logged in (no database, no Kafka). Pages are rendered on the server
(Jinja2) and made live with htmx and Server-Sent Events; docs/CONSOLE.md has the screens, the
session/CSRF/CSP model and how to add a screen.
"""

__version__ = "0.1.0"
