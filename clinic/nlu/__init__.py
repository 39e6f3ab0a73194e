"""Every rule that reads what a person typed: the kind of input (a payload, times, a code,
"go back"), question shapes, yes/no answers, the safety recogniser, SMS keywords, and the
project's spaCy pipeline (``python -m clinic.nlu.spacy_build``). Pure functions over text and
knowledge: no Rasa, no database. Kept free of imports so importing the package stays cheap."""
