"""Storage: the database engine and sessions (db), the SQLAlchemy models, the Alembic
migrations, the outbox retry policy, text sanitising for stored values, and the one reader of
Rasa's events table (rasa_events). No decisions live here."""
