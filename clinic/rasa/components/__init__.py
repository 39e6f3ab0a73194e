"""The project's Rasa NLU components (config.yml names each by its dotted path): the
out-of-scope vocabulary, the conversation guard and the safety terms classifier. Each is a thin
adapter: a pure function of clinic.nlu decides, the component writes the result on the message."""
