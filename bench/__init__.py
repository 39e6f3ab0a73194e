"""Performance benchmark: the clinic assistant against a stock `rasa init` assistant.

Run with `make bench` (or `python -m bench.run`); see bench/README.md.
"""
