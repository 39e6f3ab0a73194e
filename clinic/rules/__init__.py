"""The clinic's decisions, pure and typed, with no I/O: the screening outcome from the
answers (the article's stated rules), and the clinic's opening hours. Testable without Rasa or a
database; imports only knowledge and config."""
