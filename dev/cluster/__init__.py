"""Several Rasa replicas behind a proxy, with PostgreSQL and Redis: ``make cluster``.

``python -m dev.cluster`` starts the production topology on this machine (see
:mod:`dev.cluster.topology`); the cluster tests start the same with free ports.
"""
