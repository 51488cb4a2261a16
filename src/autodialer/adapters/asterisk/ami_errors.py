"""The AMI client's exceptions, each with a stable kebab-case ``error_id``.

    AMIClientError
    ├── AMIConnectionLost (also ConnectionError)   the link dropped before the answer came: error_id ami-connection-lost
    │   └── AMINotConnected                        nothing sent, the client is not logged in: ami-not-connected
    ├── AMILoginFailed (also ConnectionError)      Asterisk refused the credentials: ami-login-failed
    ├── AMIActionTimeout (also TimeoutError)       no response within the timeout: ami-action-timeout
    └── EventQueueOverflow                         a subscriber fell too far behind: ami-event-queue-overflow

Bad input to ``send`` (CR/LF in a value…) raises ``autodialer.protocols.ami.AMIProtocolError`` (a ValueError) before
anything is written. ``AMIConnectionLost`` being a ``ConnectionError`` is what ``AMILink`` users catch.
"""

from __future__ import annotations


class AMIClientError(Exception):
    error_id = "ami-error"


class AMIConnectionLost(AMIClientError, ConnectionError):
    """The connection dropped (EOF, reset, protocol error, dead-link Ping timeout) while an action was pending."""

    error_id = "ami-connection-lost"


class AMINotConnected(AMIConnectionLost):
    """The client is not logged in right now; the action was not sent."""

    error_id = "ami-not-connected"


class AMILoginFailed(AMIClientError, ConnectionError):
    """Asterisk answered the Login with an error (wrong user/secret, or a denied address).

    Retrying does not help until someone fixes the configuration, so the message says what to fix (``hint``).
    """

    error_id = "ami-login-failed"
    hint = (
        "check AUTODIALER_AMI_USERNAME and AUTODIALER_AMI_SECRET against the user's section in Asterisk's manager.conf"
        " (ours: `autodialer dialplan --manager`) and that its permit= lines allow this host"
    )

    def __str__(self) -> str:
        return f"{super().__str__()}; {self.hint}"


class AMIActionTimeout(AMIClientError, TimeoutError):
    """No response to an action within its timeout. The connection itself may be fine."""

    error_id = "ami-action-timeout"


class EventQueueOverflow(AMIClientError):
    """A subscription's bounded queue filled up; its consumer must re-sync (events after this point are lost)."""

    error_id = "ami-event-queue-overflow"
