"""Rasa input channels of the clinic assistant (configured in ``credentials.yml``)."""
