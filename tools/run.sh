#!/usr/bin/env bash
# Starts everything `make run` promises; Ctrl-C stops all of it.
# Every server listens on the `bind` setting (CLINIC_BIND, default 127.0.0.1) only.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv/bin
mkdir -p var
# The servers' shared secrets: created once (mode 600), never printed, never committed.
$VENV/python -m clinic.config.secrets ensure var/secrets.env
set -a; . var/secrets.env; set +a
export RASA_TELEMETRY_ENABLED=false

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "Stopping the assistant..."
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

$VENV/python -m clinic.rasa.action_server --port 5055 & pids+=($!)
$VENV/python -m dev.web.serve --port 8000 & pids+=($!)
$VENV/python -m clinic.sms.sender & pids+=($!)
$VENV/python -m clinic.console & pids+=($!)
$VENV/python -m clinic.rasa.server --port 5005 --model models/clinic.tar.gz \
  --credentials credentials.yml --endpoints endpoints.yml \
  --cors "$(.venv/bin/python -c 'from clinic.config.settings import settings; print(" ".join(settings().origins))')" \
  & pids+=($!)

echo "Waiting for the assistant to start..."
for _ in $(seq 1 180); do
  if curl -fsS "http://127.0.0.1:5005/status?token=${CLINIC_RASA_API_TOKEN}" >/dev/null 2>&1 && \
     curl -fsS http://127.0.0.1:5055/health >/dev/null 2>&1; then break; fi
  sleep 1
done
cat <<'TXT'

  The clinic assistant is running (on this machine only: 127.0.0.1).
    Website demo with the chat widget:  http://localhost:8000/
    Chat over REST (from this machine):
      curl -s localhost:5005/webhooks/rest/webhook \
        -d '{"sender": "me", "message": "can microneedling help acne scars?"}'
    Chat in a terminal:  .venv/bin/rasa shell -i 127.0.0.1 --port 5006
    Staff tool:                          .venv/bin/clinic bookings list
    Staff console (log in):              http://127.0.0.1:8001/
      first account:  .venv/bin/clinic staff add --email you@example.com
    Rasa's HTTP API needs ?token=$CLINIC_RASA_API_TOKEN (see var/secrets.env).
  Press Ctrl-C to stop everything.

TXT
wait -n "${pids[@]}"
echo "A part of the assistant stopped; shutting down the rest." >&2
