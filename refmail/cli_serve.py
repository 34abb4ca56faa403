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
from typing import Any

import click

from refmail import config, wiring
from refmail.cli_base import App, OneLineError, pass_app


@click.command()
@click.option("--listen", metavar="HOST:PORT", help="Address to serve on (default: web.listen).")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Server processes sharing the address (PostgreSQL only); a dead one is restarted.",
)
@pass_app
def web(app: App, listen: str | None, workers: int) -> None:
    """Serve the unsubscribe and preference pages (put HTTPS in front of it)."""
    from refmail.db import engine_of
    from refmail.httpserver import check_workers, pool_options, serve
    from refmail.owner_web import mount
    from refmail.web import create_app

    settings = app.settings
    check_workers(workers, settings.database)
    parts = wiring.build(settings, wiring.database(settings, **pool_options(workers)))
    context = wiring.web_context(parts, workers=workers)
    if context is None:
        raise OneLineError("web.base_url is not set: the pages need their public address")
    host, port = config.Web(listen=listen).host_port if listen else settings.web.host_port
    click.echo(f"serving {settings.web.base_url} on http://{host}:{port}")
    csrf_key = secrets.token_bytes(32)  # one for all workers: a form from one posts to another

    def pages() -> Any:  # built in each worker: no thread or connection crosses a fork
        built = create_app(context)
        mount(built, settings, parts.factory, csrf_key)  # the owner's page at /owner
        return built

    engine = engine_of(parts.factory)
    serve(pages, host, port, workers=workers, after_fork=lambda: engine.dispose(close=False))


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
