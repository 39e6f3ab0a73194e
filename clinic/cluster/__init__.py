"""Several Rasa replicas behind a proxy, with PostgreSQL and Redis: ``make cluster``.

``python -m clinic.cluster`` starts the production topology on this machine (see
:mod:`clinic.cluster.topology`); the cluster tests start the same with free ports.
"""
