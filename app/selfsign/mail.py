"""Outgoing mail: through the configured SMTP server, or into the outbox folder without one.

Sending happens after the response (a background task), outside the request's transaction:
a slow or failing mail server neither delays nor changes the answer to the form, which must
be the same whatever happened. Log lines never hold an address, a token or a body.
"""

import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from app.config import Settings, get_settings

log = logging.getLogger("undersigned.mail")


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str


def build(mail: Mail, *, settings: Settings) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain="undersigned.invalid")
    # Ask auto-responders and mailing-list software to stay out of it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text)
    return message


def _port(settings: Settings) -> int:
    if settings.smtp_port:
        return settings.smtp_port
    return {"tls": 465, "starttls": 587}.get(settings.smtp_tls, 25)


def _deliver_smtp(message: EmailMessage, *, settings: Settings) -> None:
    assert settings.smtp_host is not None
    port = _port(settings)
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if settings.smtp_tls == "tls":
        client = smtplib.SMTP_SSL(
            settings.smtp_host, port, timeout=settings.smtp_timeout, context=context
        )
    else:
        client = smtplib.SMTP(settings.smtp_host, port, timeout=settings.smtp_timeout)
    with client:
        client.ehlo()
        if settings.smtp_tls == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            client.login(settings.smtp_username, password)
        client.send_message(message)


def _deliver_outbox(message: EmailMessage, *, settings: Settings) -> Path:
    folder = Path(settings.mail_outbox)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.eml"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(bytes(message))
    tmp.replace(path)
    return path


def send(mail: Mail, *, settings: Settings | None = None) -> bool:
    """Deliver one message; False (logged without details) when the server refused it."""
    settings = settings or get_settings()
    message = build(mail, settings=settings)
    try:
        if settings.smtp_host:
            _deliver_smtp(message, settings=settings)
        else:
            _deliver_outbox(message, settings=settings)
    except (OSError, smtplib.SMTPException) as exc:
        # The exception's text may quote the recipient: its type only.
        log.warning("mail not delivered (%s)", type(exc).__name__)
        return False
    return True
