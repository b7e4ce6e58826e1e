"""The operator console: server-rendered pages at ``/`` of the API process (``alpr api serve``).

Operators sign in with an API key; the browser then holds an HttpOnly session cookie
(:mod:`api.console.sessions`) and every changing request echoes the session's CSRF token.
Read keys see, admin keys also change; every action is audited like the REST API's. Pages
are Jinja2 templates (autoescaped) with a pinned, vendored htmx and one small script; the
live page follows new events over server-sent events (:mod:`api.console.feed`).
"""
