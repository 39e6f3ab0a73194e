"""Custom actions of the clinic assistant (Rasa SDK action server, port 5055).

Loading the knowledge here makes the action server refuse to start, with a message naming
the file, entry and fix, when a knowledge file is malformed.
"""

from clinic.knowledge.kb import knowledge

knowledge()
