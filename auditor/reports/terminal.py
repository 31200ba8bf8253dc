"""The terminal table: per client and account, one row per check."""

from __future__ import annotations

from tabulate import tabulate

from auditor.result import AuditResult

_MARK = {
    "pass": "pass",
    "fail": "FAIL",
    "incomplete": "incomplete",
    "error": "ERROR",
    "not_applicable": "n/a",
}


def _clip(text: str, width: int = 72) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def render(result: AuditResult) -> str:
    blocks = []
    for client in result.clients:
        for account in client.accounts:
            window = ""
            if account.coverage.window_start and account.coverage.window_end:
                window = (
                    f", window {account.coverage.window_start:%Y-%m-%d}"
                    f"..{account.coverage.window_end:%Y-%m-%d}"
                )
                if account.coverage.complete is False:
                    reason = account.coverage.reason
                    window += f" (incomplete: {_clip(reason, 100)})" if reason else " (incomplete)"
            pages = "" if account.coverage.pages is None else f", {account.coverage.pages} pages"
            unseen = account.coverage.not_observable
            blind = f"; not observable: {', '.join(unseen)}" if unseen else ""
            header = (
                f"{client.name} / {account.platform}:{account.account}: "
                f"{_MARK.get(account.status, account.status)}"
                f" ({account.coverage.posts} posts{pages}{window}{blind})"
            )
            rows = [
                [c.id, c.title, c.severity, _MARK.get(c.status, c.status), _clip(c.summary)]
                for c in account.checks
            ]
            body = (
                tabulate(rows, headers=["id", "title", "severity", "status", "summary"])
                if rows
                else ""
            )
            errors = "\n".join(f"  error: {e}" for e in account.errors)
            blocks.append("\n".join(part for part in (header, body, errors) if part))
    for error in result.input_errors:
        if not any(error in e for a in result.accounts() for e in a.errors):
            blocks.append(f"input error: {error}")
    return "\n\n".join(blocks)
