"""The email: the client's report.md as the body (a plain-text summary without one), its
report.html attached, sent through the configured SMTP server (STARTTLS and a login when
configured)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from auditor.config_notify import EmailConfig
from auditor.fetch.secrets import Secret, server_text
from auditor.notify.channel import AttemptFailed, read_secret
from auditor.notify.summary import RunSummary, headline, summary_text
from auditor.untrusted import escape_controls

TIMEOUT_SECONDS = 30.0
SUBJECT_PREFIX = "[social-care-auditor]"
# Mail servers refuse large messages (often above 10 to 25 MB); a report.html past this stays
# on disk and the body says where.
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


def message(config: EmailConfig, summary: RunSummary) -> EmailMessage:
    """The email of ``summary``: subject, body, report.html attached when written."""
    mail = EmailMessage()
    mail["Subject"] = f"{SUBJECT_PREFIX} {headline(summary)}"
    mail["From"] = config.sender
    mail["To"] = ", ".join(config.to)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2])
    body = _body(summary)
    html = summary.report_html
    attached = html.read_bytes() if html is not None and _fits(html) else None
    if html is not None and attached is None:
        place = escape_controls(str(html))
        body = f"The HTML report is too large to attach: it is at {place}\n\n{body}"
    mail.set_content(body)
    if attached is not None:
        mail.add_attachment(attached, maintype="text", subtype="html", filename="report.html")
    return mail


def _body(summary: RunSummary) -> str:
    if summary.report_md is not None:
        try:
            return summary.report_md.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            pass  # the summary below says as much, and where the reports are
    return summary_text(summary)


def _fits(path: Path) -> bool:
    try:
        return path.stat().st_size <= MAX_ATTACHMENT_BYTES
    except OSError:
        return False


def send(config: EmailConfig, summary: RunSummary) -> None:
    """Send the summary's email; raises :class:`AttemptFailed` on any failure."""
    smtp = config.smtp
    password = read_secret(smtp.password) if smtp.password is not None else None
    mail = message(config, summary)
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT_SECONDS) as server:
            if smtp.starttls:
                server.starttls(context=ssl.create_default_context())
            if password is not None and smtp.user is not None:
                server.login(smtp.user, password.reveal())
            server.send_message(mail)
    except smtplib.SMTPNotSupportedError as error:
        raise AttemptFailed(_line(smtp.host, error, password), permanent=True) from None
    except smtplib.SMTPRecipientsRefused as error:
        refused = ", ".join(escape_controls(r) for r in error.recipients)
        raise AttemptFailed(
            f"{smtp.host} refused the recipients {refused}", permanent=True
        ) from None
    except smtplib.SMTPResponseException as error:
        said = (
            error.smtp_error.decode("utf-8", "replace")
            if isinstance(error.smtp_error, bytes)
            else str(error.smtp_error)
        )
        raise AttemptFailed(
            _line(smtp.host, f"SMTP {error.smtp_code} {said}", password),
            permanent=error.smtp_code >= 500,
        ) from None
    except ssl.SSLCertVerificationError as error:
        raise AttemptFailed(_line(smtp.host, error, password), permanent=True) from None
    except (smtplib.SMTPException, OSError) as error:
        raise AttemptFailed(
            _line(smtp.host, f"{type(error).__name__}: {error}", password)
        ) from None


def _line(host: str, said: object, password: Secret | None) -> str:
    return f"{host}: " + " ".join(server_text(str(said), [password]).split())
