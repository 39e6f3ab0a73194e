"""Everything Rasa loads by dotted name (config.yml, credentials.yml, endpoints.yml): the NLU
components, the input channels (REST, socket.io, Twilio), the tracker and lock stores, the
patches applied at start-up, resilience, and the two server launchers. Thin adapters over
nlu, rules and services. Kept free of imports: importing the package loads nothing of Rasa."""
