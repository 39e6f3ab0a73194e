"""The clinic's natural-language pieces built on spaCy.

``clinic.nlu.spacy_build`` builds the project's own spaCy pipeline from the terms in
``knowledge/`` (``python -m clinic.nlu.spacy_build``). Kept free of imports so that importing
the package stays cheap: spaCy is loaded only by the modules that need it.
"""
