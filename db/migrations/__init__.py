"""Versioned SQL migrations (a package only so that wheels ship the .sql files)."""
