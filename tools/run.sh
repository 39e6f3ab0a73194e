#!/usr/bin/env bash
# Starts everything `make run` promises; Ctrl-C stops all of it.
# Every server listens on the `bind` setting (CLINIC_BIND, default 127.0.0.1) only.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv/bin
# Patient databases, secrets and logs: readable by this user only (folders 0700, files 0600).
umask 077
mkdir -p var && chmod 700 var
# Ports (the defaults are Rasa's and the README's); tests start it on free ones.
RASA_PORT=${CLINIC_RASA_PORT:-5005}
ACTIONS_PORT=${CLINIC_ACTIONS_PORT:-5055}
WEB_PORT=${CLINIC_WEB_PORT:-8000}
# The servers' shared secrets: created once (mode 600), never printed, never committed.
$VENV/python -m clinic.config.secrets ensure var/secrets.env
$VENV/python -m dev.calendar_server --ensure-password var/secrets.env
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

# The local CalDAV server (Radicale, var/radicale-venv), unless settings point at a clinic's own.
if .venv/bin/python -c 'from clinic.config.settings import settings; import sys; sys.exit(not settings().caldav_url.startswith("http://127.0.0.1:5232/"))'; then
  $VENV/python -m dev.calendar_server --port 5232 & pids+=($!)
fi
$VENV/python -m clinic.rasa.action_server --port "$ACTIONS_PORT" & pids+=($!)
# Appointments: writes holds the calendar missed, releases holds staff did not confirm in time.
$VENV/python -m clinic.cli.commands visits work --loop 60 & pids+=($!)
$VENV/python -m dev.web.serve --port "$WEB_PORT" & pids+=($!)
$VENV/python -m clinic.sms.sender & pids+=($!)
# The console appends events with short JWTs (CLINIC_CONSOLE_JWT_SECRET), never the API token.
env -u CLINIC_RASA_API_TOKEN $VENV/python -m clinic.console & pids+=($!)
$VENV/python -m clinic.rasa.server --port "$RASA_PORT" --model models/clinic.tar.gz \
  --credentials credentials.yml --endpoints endpoints.yml \
  --cors "$(.venv/bin/python -c 'from clinic.config.settings import settings; print(" ".join(settings().origins))')" \
  & pids+=($!)

echo "Waiting for the assistant to start..."
for _ in $(seq 1 180); do
  if curl -fsS "http://127.0.0.1:${RASA_PORT}/status?token=${CLINIC_RASA_API_TOKEN}" >/dev/null 2>&1 && \
     curl -fsS "http://127.0.0.1:${ACTIONS_PORT}/health" >/dev/null 2>&1; then break; fi
  sleep 1
done
cat <<'TXT'

  The clinic assistant is running (on this machine only: 127.0.0.1).
    Website demo with the chat widget:  http://localhost:8000/
    Chat over REST (from this machine):
      curl -s localhost:5005/webhooks/rest/webhook -H 'Content-Type: application/json' \
        -d '{"sender": "me", "message": "can microneedling help acne scars?"}'
    Chat in a terminal:  .venv/bin/rasa shell -i 127.0.0.1 --port 5006
    Clinic calendar (CalDAV, local):     http://127.0.0.1:5232/clinic/practitioner/
      user "clinic", password CLINIC_CALDAV_PASSWORD in var/secrets.env
    Staff tool:                          .venv/bin/clinic bookings list
    Staff console (log in):              http://127.0.0.1:8001/
      first account:  .venv/bin/clinic staff add --email you@example.com
    Rasa's HTTP API needs ?token=$CLINIC_RASA_API_TOKEN (see var/secrets.env).
  Press Ctrl-C to stop everything.

TXT
wait -n "${pids[@]}"
echo "A part of the assistant stopped; shutting down the rest." >&2
