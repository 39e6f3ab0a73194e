"""Loads and checks the clinic's knowledge (knowledge/*.yml): the typed Knowledge object, the
message registry (every sentence a person reads, by key), the patient questions, the domain.yml
builder and `python -m clinic.knowledge.check`. No Rasa, no database."""
