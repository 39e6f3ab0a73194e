"""Configuration and plumbing every room may use: settings (settings.yml and CLINIC_*),
the shared secrets, which hosts count as loopback, and the log filter that keeps patient text
out of logs. Imports nothing else of the project but the knowledge root."""
