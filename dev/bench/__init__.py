"""Performance benchmark: the clinic assistant against a stock `rasa init` assistant.

Run with `make bench` (or `python -m dev.bench.run`); see dev/bench/README.md.
"""
