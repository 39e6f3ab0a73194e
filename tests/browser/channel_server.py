"""Run only the clinic's socket.io channel (no model) on a loopback port: ``python
channel_server.py PORT``. Each message is answered with its own text through the channel's
output channel. Used to test the widget's reconnection, where the assistant itself is not
needed."""

import sys

from rasa.core.run import _create_app_without_api

from clinic.rasa.channels.socketio import ClinicSocketIOInput


async def answer(message) -> None:
    await message.output_channel.send_text_message(message.sender_id, "heard: " + message.text)


if __name__ == "__main__":
    channel = ClinicSocketIOInput.from_credentials({"session_persistence": True})
    app = _create_app_without_api()
    app.blueprint(channel.blueprint(answer), url_prefix="/webhooks/socketio")
    app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False, workers=1)
