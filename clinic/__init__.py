"""The clinic assistant, in rooms by kind (docs/architecture.md has the layer picture).

``config`` (settings, secrets, log privacy) and ``knowledge`` (loading knowledge/*.yml) are at the
bottom; ``nlu`` reads text and ``rules`` decides, both pure; ``store`` is the database;
``services`` are the use cases that own a transaction; ``rasa`` holds what Rasa loads by dotted
name; ``sms``, ``console`` and ``cli`` are the applications. tests/unit/test_layers.py enforces it.
"""
