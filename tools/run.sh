#!/usr/bin/env bash
# Starts everything `make run` promises; Ctrl-C stops all of it.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv/bin
mkdir -p var
pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "Stopping the assistant..."
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

$VENV/rasa run actions --port 5055 --actions actions & pids+=($!)
$VENV/python -m clinic.web.serve --port 8000 & pids+=($!)
$VENV/python -m clinic.sms.sender & pids+=($!)
$VENV/python -m clinic.console & pids+=($!)
$VENV/rasa run --enable-api --port 5005 --model models/clinic.tar.gz \
  --credentials credentials.yml --endpoints endpoints.yml \
  --cors "$(.venv/bin/python -c 'from clinic.settings import settings; print(" ".join(settings().origins))')" \
  & pids+=($!)

echo "Waiting for the assistant to start..."
for _ in $(seq 1 180); do
  if curl -fsS http://localhost:5005/status >/dev/null 2>&1 && \
     curl -fsS http://localhost:5055/health >/dev/null 2>&1; then break; fi
  sleep 1
done
cat <<'TXT'

  The clinic assistant is running.
    Website demo with the chat widget:  http://localhost:8000/
    Chat over REST:
      curl -s localhost:5005/webhooks/rest/webhook \
        -d '{"sender": "me", "message": "can microneedling help acne scars?"}'
    Chat in a terminal:  .venv/bin/rasa shell --port 5006   (from the project root)
    Staff tool:                          .venv/bin/clinic bookings list
    Staff console (log in):              http://127.0.0.1:8001/
      first account:  .venv/bin/clinic staff add --email you@example.com
  Press Ctrl-C to stop everything.

TXT
wait -n "${pids[@]}"
echo "A part of the assistant stopped; shutting down the rest." >&2
