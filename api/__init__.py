"""Query API of the platform (`alpr api`): search, watchlists, alerts, retention and erasure.

``api.app.create_app(settings)`` builds the FastAPI application; ``api.cli`` holds the
`alpr api`, `alpr watchlist`, `alpr events` and `alpr erase` commands.
"""
