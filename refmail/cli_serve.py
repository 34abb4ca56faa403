"""`refmail web` and `refmail run`: the long-running commands, and their logging (plain or one
JSON object a line). The server, the scheduler and the templates are loaded here only."""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import sys
from datetime import UTC, datetime

import click

from refmail import config, wiring
from refmail.cli_base import App, OneLineError, pass_app


@click.command()
@click.option("--listen", metavar="HOST:PORT", help="Address to serve on (default: web.listen).")
@pass_app
def web(app: App, listen: str | None) -> None:
    """Serve the unsubscribe and preference pages (put HTTPS in front of it)."""
    import uvicorn  # imported here: only this command needs a server

    from refmail.httpserver import server_config
    from refmail.owner_web import mount
    from refmail.web import create_app

    settings = app.settings
    parts = wiring.build(settings)
    context = wiring.web_context(parts)
    if context is None:
        raise OneLineError("web.base_url is not set: the pages need their public address")
    host, port = config.Web(listen=listen).host_port if listen else settings.web.host_port
    click.echo(f"serving {settings.web.base_url} on http://{host}:{port}")
    pages = create_app(context)
    mount(pages, settings, parts.factory)  # the owner's page at /owner
    uvicorn.Server(server_config(pages, host, port)).run()


@click.command()
@click.option(
    "--worker",
    is_flag=True,
    help="Share the accounts with other `run --worker` processes on the same database "
    "(PostgreSQL): each runs the accounts it holds a lease on, and takes over a dead one's.",
)
@pass_app
def run(app: App, worker: bool) -> None:
    """Run the daemon: sync every account (IDLE where offered), dispatch due follow-ups, and
    serve the recipient pages. SIGTERM/SIGINT stop cleanly; SIGHUP reloads the config."""
    from refmail.daemon import Daemon, progress_printer

    settings = app.settings
    setup_logging(settings.log_level, settings.daemon.log_format)
    on_batch = progress_printer() if sys.stderr.isatty() else None
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}" if worker else None
    Daemon(app.config_path, on_batch=on_batch, worker=worker_id).run()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the fields of an outbox
    decision (follow_up, kind, to, state, rule, reason, due), and the error, if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "refmail", None)  # outbox decisions: who, what, until when
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
