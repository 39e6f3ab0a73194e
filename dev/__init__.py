"""Development tools, not shipped (not in pyproject's package list): the cluster launcher
(``python -m dev.cluster``), the demo clinic website (``python -m dev.web.serve``) and the
benchmarks (``python -m dev.bench.run``)."""
