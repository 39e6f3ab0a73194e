"""One loader per knowledge file (``load(directory, ...)``), each reading its YAML into the
typed knowledge of :mod:`clinic.knowledge.model` and refusing a malformed entry with a
:class:`~clinic.knowledge.model.KnowledgeError` that names the file, the entry and the fix.
:mod:`~clinic.knowledge.loaders.reading` holds the typed field access they share;
:func:`clinic.knowledge.kb.load_knowledge` calls them in order."""
