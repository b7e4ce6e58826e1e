"""Object-storage helpers shared by the flow and the API (no other platform imports)."""
