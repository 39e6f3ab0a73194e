"""How an outgoing text leaves the clinic: Twilio's REST API, or the local outbox.

Without Twilio credentials in the environment (the local default) nothing is sent: the
caller stores the text in ``sms_messages`` with transport ``"local-outbox"`` and status
``"not-sent"``, where staff read it with ``clinic outbox list``. With
``TWILIO_ACCOUNT_SID`` and ``TWILIO_AUTH_TOKEN`` set, texts go through the ``twilio``
package's ``Client.messages.create``.

A transport only sends; it never touches the database, so the sender can record the
outcome in the same transaction that marks the follow-up done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from clinic.config.settings import Settings, settings

log = logging.getLogger(__name__)

LOCAL_OUTBOX = "local-outbox"
TWILIO = "twilio"
NOT_SENT = "not-sent"

# Twilio REST error codes that will not succeed on a retry. Any other 4xx answer is
# treated as permanent too; 429 and 5xx (and network errors) are transient.
PERMANENT_CODES = {
    21211: "invalid 'To' number",
    21408: "region not enabled for this number",
    21610: "recipient has opted out (unsubscribed)",
    21612: "number cannot be reached from this sender",
    21614: "not a mobile number",
}
UNSUBSCRIBED = 21610


@dataclass(frozen=True)
class SendResult:
    """What happened to one outgoing text."""

    transport: str  # LOCAL_OUTBOX or TWILIO
    status: str  # NOT_SENT for the outbox, Twilio's status ("queued", ...) otherwise
    provider_sid: str | None = None


class SendError(Exception):
    """A text could not be handed over. ``permanent`` errors must not be retried.

    ``delivery_unknown``: the request may have reached Twilio (a read timeout, or the
    connection dropped after the request was sent), so the text may be on its way.
    Sending it again could text the patient twice: it is not retried.
    """

    def __init__(self, reason: str, code: int | None = None, permanent: bool = False,
                 delivery_unknown: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.permanent = permanent or delivery_unknown
        self.delivery_unknown = delivery_unknown


class Transport(Protocol):
    """Anything that can send one text message."""

    name: str

    def send(self, to: str, body: str) -> SendResult:
        """Send ``body`` to the E.164 number ``to``; raise SendError on failure."""
        ...


class LocalOutbox:
    """The local default: nothing leaves the machine.

    The caller stores the text in ``sms_messages`` with transport ``local-outbox`` and
    status ``not-sent``; that row *is* the outbox.
    """

    name = LOCAL_OUTBOX

    def send(self, to: str, body: str) -> SendResult:
        """Accept the text for the local outbox (it is not delivered to anyone)."""
        return SendResult(LOCAL_OUTBOX, NOT_SENT)


class TwilioTransport:
    """Send through Twilio's Messages API with the ``twilio`` package."""

    name = TWILIO

    def __init__(self, account_sid: str, auth_token: str, from_number: str,
                 api_base: str = "", timeout: float = 30.0) -> None:
        if not from_number:
            raise ValueError("Twilio credentials are set but twilio_from_number is empty: "
                             "set it in settings.yml or CLINIC_TWILIO_FROM_NUMBER")
        # Lazy: twilio and requests load only when Twilio is configured.
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        # A bounded timeout keeps one send well inside the sender's claim timeout.
        self.client = Client(account_sid, auth_token,
                             http_client=TwilioHttpClient(timeout=timeout))
        if api_base:
            # twilio 8.x builds every Messages URL from the Api domain's base_url
            # ("https://api.twilio.com"); replacing it redirects the whole domain.
            self.client.api.base_url = api_base.rstrip("/")
        self.from_number = from_number

    def send(self, to: str, body: str) -> SendResult:
        """Create the message at Twilio; translate failures into SendError."""
        # Lazy: as in __init__.
        from requests.exceptions import RequestException
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            message = self.client.messages.create(to=to, from_=self.from_number, body=body)
        except TwilioRestException as error:
            raise _rest_error(error) from None
        except RequestException as error:
            raise network_error(error) from None
        except TwilioException as error:
            raise SendError(f"Twilio client error: {error}") from None
        return SendResult(TWILIO, str(message.status or "queued"), message.sid)


def sent_nothing(error: BaseException) -> bool:
    """True if a requests error happened before the request could reach the server.

    Connecting (refused, DNS, connect timeout, proxy, TLS handshake) comes before any
    byte of the request is sent. Anything else (read timeout, connection reset or
    closed while waiting for the answer, a broken answer) may come after Twilio
    received the request.
    """
    # Lazy: as in TwilioTransport.__init__.
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import ConnectTimeout, InvalidURL, MissingSchema, ProxyError, SSLError
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

    if isinstance(error, (ConnectTimeout, ProxyError, SSLError, InvalidURL, MissingSchema)):
        return True
    if isinstance(error, RequestsConnectionError):
        cause = error.args[0] if error.args else None
        if isinstance(cause, MaxRetryError):
            cause = cause.reason
        return isinstance(cause, (NewConnectionError, ConnectTimeoutError))
    return False


def network_error(error: BaseException) -> SendError:
    """The SendError for a network failure: retryable only if nothing was sent."""
    if sent_nothing(error):
        return SendError(f"network error before sending: {type(error).__name__}")
    return SendError(f"{type(error).__name__} after the request was sent; delivery "
                     "unknown, not retried", delivery_unknown=True)


def _rest_error(error: object) -> SendError:
    status = int(getattr(error, "status", 0) or 0)
    code = getattr(error, "code", None)
    code = int(code) if code is not None else None
    if status == 401:
        # Wrong credentials are the clinic's configuration, not the patient's number:
        # retry (after someone fixes them) instead of failing every follow-up for good.
        return SendError("Twilio rejected the credentials (check TWILIO_ACCOUNT_SID and "
                         "TWILIO_AUTH_TOKEN)", code=code, permanent=False)
    permanent = code in PERMANENT_CODES or (400 <= status < 500 and status not in (408, 429))
    reason = PERMANENT_CODES.get(code or 0) or f"HTTP {status}"
    return SendError(f"Twilio error {code}: {reason}", code=code, permanent=permanent)


def twilio_configured(config: Settings | None = None) -> bool:
    """True when Twilio credentials are in the environment."""
    config = config or settings()
    return bool(config.twilio_account_sid and config.twilio_auth_token)


def get_transport(config: Settings | None = None) -> Transport:
    """Twilio when credentials are in the environment, the local outbox otherwise."""
    config = config or settings()
    if twilio_configured(config):
        return TwilioTransport(config.twilio_account_sid, config.twilio_auth_token,
                               config.twilio_from_number, config.twilio_api_base)
    return LocalOutbox()
