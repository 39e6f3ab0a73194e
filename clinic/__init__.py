"""Plain-Python domain code of the clinic assistant (no Rasa imports at module level)."""
