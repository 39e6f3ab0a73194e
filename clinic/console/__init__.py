"""The staff console: a small web app where clinic staff take over conversations and see
what patients ask (``python -m clinic.console``, http://127.0.0.1:8001/ by default)."""
