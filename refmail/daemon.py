"""`refmail run`: keeps every account synced, dispatches due follow-ups, serves the pages.

APScheduler is the clock (sync and dispatch per account, housekeeping), the database stays the
queue. IDLE watchers wake an account's sync within about a second. Each account's jobs fail and
back off alone. SIGTERM/SIGINT finish the batch in hand and stop; SIGHUP reloads the config.
"""

from __future__ import annotations

import functools
import logging
import random
import signal
import threading
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import SQLAlchemyError

from refmail import config, digest, kinds, leases, outbox, outcomes, wiring
from refmail.clock import Clock, system_clock
from refmail.db import transaction
from refmail.dispatch import dispatch
from refmail.errors import BusyError, RefmailError
from refmail.idle import IdleWatcher, backoff_delay
from refmail.metrics import Metrics
from refmail.source import Batch
from refmail.sync import SyncReport, sync_account

log = logging.getLogger(__name__)

# Jobs running at once: each may hold two database connections (its lock and its work), so
# this bounds the pool a worker needs (see db.make_engine) and what N workers ask of PostgreSQL.
MAX_THREADS = 8
# More accounts than threads: their first runs are spread, a few milliseconds apart (about
# the pace the pool takes them at, so the spread delays nothing) and over ten seconds at most
# (never more than one sync interval), so a thousand accounts do not all start at once.
SPREAD_SECONDS_PER_ACCOUNT = 0.005
MAX_SPREAD_SECONDS = 10.0


@dataclass
class AccountState:
    """How one account is doing: failures drive its own backoff, and nobody else's."""

    name: str
    failures: int = 0
    pending: threading.Event = field(default_factory=threading.Event)
    syncing: threading.Event = field(default_factory=threading.Event)
    last_error: str = ""
    # Just scheduled (started, or taken from another worker): its first sync dispatches
    # whatever is due, so dispatch's own job need not run a second pass right beside it.
    fresh: bool = False


class Daemon:
    """One process for every configured account. `run()` blocks until stopped."""

    def __init__(
        self,
        config_path: str | None,
        *,
        clock: Clock = system_clock,
        on_batch: Any = None,
        serve_web: bool = True,
        worker: str | None = None,
    ) -> None:
        self.config_path = config_path
        self.clock = clock
        self.on_batch = on_batch
        self.serve_web = serve_web
        self.stopping = threading.Event()
        self.metrics = Metrics()
        self.settings = config.load(config_path)
        self.parts = wiring.build(self.settings)
        self.factory = self.parts.factory
        self.scheduler: BackgroundScheduler | None = None
        self.states: dict[str, AccountState] = {}
        self.watchers: dict[str, tuple[threading.Event, list[IdleWatcher]]] = {}
        self._web: Any = None
        # `run --worker`: this process runs only the accounts it holds a lease on (refmail.leases);
        # None: every account of the config.
        self.worker = worker
        self.leased: set[str] | None = set() if worker else None

    # --- lifecycle -------------------------------------------------------------------------

    def run(self) -> None:
        """Start, then wait for a signal; on SIGTERM/SIGINT stop cleanly, on SIGHUP reload."""
        reload_requested = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: self.stopping.set())
        signal.signal(signal.SIGHUP, lambda *_: reload_requested.set())
        self.start()
        try:
            while not self.stopping.wait(0.2):
                if reload_requested.is_set():
                    reload_requested.clear()
                    self.reload()
        finally:
            self.shutdown()

    def start(self) -> None:
        self._start_jobs()
        self._start_web()
        log.info("refmail running: %d account(s)", len(self.settings.accounts))

    def shutdown(self) -> None:
        """Finish the batch in hand (sync asks `stopping` after each one) and stop."""
        self.stopping.set()
        self._stop_jobs()
        if self.worker is not None:
            with transaction(self.factory) as session:
                leases.release(session, self.worker, datetime.now(UTC))
        if self._web is not None:
            self._web.should_exit = True
        log.info("refmail stopped")

    def reload(self) -> None:
        """Re-read the config; on an error keep running with the old one."""
        try:
            settings = config.load(self.config_path)
            parts = wiring.build(settings, self.factory)  # the database stays the same
        except RefmailError as exc:
            log.error("config reload failed, keeping the running config: %s", exc)
            return
        log.info("reloading the config")
        self._stop_jobs()
        self.settings, self.parts = settings, parts
        self._start_jobs()

    # --- jobs ------------------------------------------------------------------------------

    def _start_jobs(self) -> None:
        d = self.settings.daemon
        # A sync and a dispatch per account at once, but never thousands of threads: with many
        # accounts the jobs queue for a bounded pool (each job is short and resumable).
        workers = min(2 * len(self.settings.accounts) + 2, MAX_THREADS)
        self.scheduler = BackgroundScheduler(
            # The lease job has a thread of its own: a pool busy with syncs never delays the
            # heartbeat, so a busy worker is never mistaken for a dead one.
            executors={"default": ThreadPoolExecutor(workers), "leases": ThreadPoolExecutor(1)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(d.misfire_grace_seconds),
            },
            timezone=UTC,
        )
        now = datetime.now(UTC)
        held = [a.name for a in self.settings.accounts if self._holds(a.name)]
        for account in self.settings.accounts:
            self.states.setdefault(account.name, AccountState(account.name))
        for name in held:  # a worker holds nothing yet: its lease job schedules what it takes
            self._schedule_account(name, now, len(held))
            self._start_watchers(name)
        if self.worker is not None:
            self.scheduler.add_job(
                self._lease_job,
                "interval",
                seconds=d.lease_seconds / 3,
                id="leases",
                executor="leases",
                next_run_time=now,
            )
        self.scheduler.add_job(
            self._housekeeping,
            "interval",
            hours=d.housekeeping_hours,
            id="housekeeping",
            next_run_time=now + timedelta(seconds=5),
        )
        self.scheduler.start()

    def _schedule_account(self, name: str, now: datetime, count: int) -> None:
        """Sync and dispatch jobs for one account, first run spread when there are many."""
        scheduler, d = self.scheduler, self.settings.daemon
        if scheduler is None:
            return
        spread = 0.0
        if count > MAX_THREADS:
            spread = min(d.sync_seconds, MAX_SPREAD_SECONDS, count * SPREAD_SECONDS_PER_ACCOUNT)
        first = now + timedelta(seconds=random.uniform(0, spread))
        scheduler.add_job(
            self._sync_job,
            "interval",
            seconds=d.sync_seconds,
            args=[name],
            id=f"sync:{name}",
            next_run_time=first,
            replace_existing=True,
        )
        self.states.setdefault(name, AccountState(name)).fresh = True
        scheduler.add_job(
            self._dispatch_job,
            "interval",
            seconds=d.dispatch_seconds,
            args=[name],
            id=f"dispatch:{name}",
            next_run_time=first + timedelta(seconds=d.dispatch_seconds),
            replace_existing=True,
        )

    def _unschedule_account(self, name: str) -> None:
        """An account handed over: its jobs go (a run in progress stops after its batch)."""
        scheduler = self.scheduler
        for job_id in (f"sync:{name}", f"dispatch:{name}"):
            if scheduler is not None:
                with suppress(JobLookupError):
                    scheduler.remove_job(job_id)

    def _stop_jobs(self) -> None:
        for stop, _ in self.watchers.values():
            stop.set()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)  # running jobs finish their batch first
            self.scheduler = None
        for name in list(self.watchers):
            self._stop_watchers(name)

    def _start_watchers(self, account_name: str) -> None:
        """IDLE on every folder of the account (where IDLE is on and the account is IMAP)."""
        d, account = self.settings.daemon, self.settings.account(account_name)
        if not d.idle or account.imap is None or account_name in self.watchers:
            return
        stop, started = threading.Event(), []
        for folder in account.imap.folders:
            watcher = IdleWatcher(
                account.name,
                account.imap,
                folder,
                functools.partial(self.kick, account.name),
                stop,
                d.idle_reissue_seconds,
                d.reconnect_max_seconds,
            )
            watcher.start()
            started.append(watcher)
        self.watchers[account_name] = (stop, started)

    def _stop_watchers(self, account_name: str, *, wait: bool = True) -> None:
        stop, started = self.watchers.pop(account_name, (threading.Event(), []))
        stop.set()
        for watcher in started if wait else ():
            watcher.join(timeout=3)

    def _holds(self, account_name: str) -> bool:
        return self.leased is None or account_name in self.leased

    def _should_stop(self, account_name: str) -> bool:
        """Asked by sync after each committed batch: stopping, or the account handed over."""
        return self.stopping.is_set() or not self._holds(account_name)

    def _lease_job(self) -> None:
        """Renew this worker's leases and rebalance; start or stop what follows the accounts."""
        assert self.worker is not None and self.leased is not None
        names = [a.name for a in self.settings.accounts]
        ttl = timedelta(seconds=self.settings.daemon.lease_seconds)
        try:
            with transaction(self.factory) as session:
                round_ = leases.claim_round(session, self.worker, names, ttl, datetime.now(UTC))
        except SQLAlchemyError as exc:  # database unreachable: our leases run out, as they should
            log.warning("worker %s: leases not renewed this time: %s", self.worker, exc)
            return
        held = set(round_.held)
        gained, lost = held - self.leased, self.leased - held
        self.leased = held
        for name in sorted(lost):  # first: stop what is no longer ours
            log.info("worker %s: account %s handed over", self.worker, name)
            self._unschedule_account(name)
            self._stop_watchers(name, wait=False)  # they stop by themselves; no heartbeat waits
        now = datetime.now(UTC)
        for name in sorted(gained):
            how = (
                "taken over: its worker stopped renewing"
                if name in round_.expired_from
                else "taken"
            )
            log.info("worker %s: account %s %s", self.worker, name, how)
            self._schedule_account(name, now, len(gained))
            self._start_watchers(name)

    def kick(self, account_name: str) -> None:
        """New mail: sync this account now (or right after the run in progress)."""
        state = self.states.get(account_name)
        if state is None or self.scheduler is None:
            return
        state.pending.set()
        # A running sync loops while `pending` is set. Otherwise sync now: the watcher just
        # heard from the server, so even an account in backoff is worth one try.
        if not state.syncing.is_set():
            self._reschedule(f"sync:{account_name}", datetime.now(UTC))

    def _reschedule(self, job_id: str, when: datetime) -> None:
        scheduler = self.scheduler
        if scheduler is not None:
            with suppress(JobLookupError):  # shutting down, or jobs being replaced by a reload
                scheduler.modify_job(job_id, next_run_time=when)

    def _sync_job(self, account_name: str) -> None:
        """Sync, and while new mail keeps being announced, sync again; then dispatch."""
        if self._should_stop(account_name):  # a run queued before a stop or a hand-over
            return
        state = self.states[account_name]
        account = self.settings.account(account_name)
        found = 0
        state.syncing.set()
        try:
            while True:
                state.pending.clear()
                with wiring.open_source(account) as source:
                    report = sync_account(
                        self.factory,
                        account,
                        source,
                        wiring.folders(account),
                        self.settings.followups,
                        self.clock,
                        self.on_batch,
                        functools.partial(self._should_stop, account_name),
                        outcomes.rules_for(self.settings, account),
                    )
                self.metrics.synced(
                    account_name, report.scanned, report.introductions, datetime.now(UTC)
                )
                found += report.follow_ups
                if report.candidates:
                    log.info("%s", report.summary())
                for notice in report.notices:
                    log.warning("account %s: %s", account_name, notice)
                if self.stopping.is_set() or not state.pending.is_set():
                    break
        except BusyError as exc:  # e.g. a cron `refmail sync` beside us: it does the work
            self._busy("sync", account_name, exc)
            return
        except RefmailError as exc:
            self._failed(state, "sync", exc)
            return
        finally:
            state.syncing.clear()
            if state.pending.is_set() and not self.stopping.is_set():
                self._reschedule(f"sync:{account_name}", datetime.now(UTC))  # a late kick
        self._recovered(state)
        if (found or state.fresh) and not self.stopping.is_set():
            state.fresh = False
            self._dispatch_job(account_name)
        self._reconcile(account_name)  # after dispatch: new drafts are not kept waiting

    def _reconcile(self, account_name: str) -> None:
        """What the owner did with the drafts, and the withdrawals asked for (after each sync,
        so after each IDLE wake too); a failure here is logged and leaves sync alone."""
        if self._should_stop(account_name):  # stopping, or handed over during the sync
            return
        account = self.settings.account(account_name)
        try:
            report = wiring.reconcile_drafts(self.settings, self.factory, account, self.clock)
        except RefmailError as exc:
            log.error("account %s: reconciling drafts failed: %s", account_name, exc)
            return
        for notice in report.notices:
            log.warning("account %s: %s", account_name, notice)

    def _dispatch_job(self, account_name: str) -> None:
        if self.stopping.is_set() or not self._holds(account_name):
            return
        state = self.states[account_name]
        account = self.settings.account(account_name)
        try:
            with wiring.open_channels(account) as channels:
                report = dispatch(
                    self.factory,
                    account,
                    channels,
                    self.parts.renderer,
                    self.clock,
                    rules=self.parts.rules,
                    stop=self.stopping.is_set,  # SIGTERM: finish the chunk in hand, then stop
                    claim_ttl=claim_ttl(account, self.settings.daemon),
                )
                optin = self.settings.optin  # the owner's digest, when one is due
                digest.draft(
                    self.factory,
                    account,
                    channels(kinds.CALL_TASK),
                    self.parts.renderer,
                    self.clock(),
                    every=timedelta(days=optin.digest_days),
                    ask_wait=timedelta(days=optin.wait_days),
                )
        except BusyError as exc:
            self._busy("dispatch", account_name, exc)
            return
        except RefmailError as exc:
            self._failed(state, "dispatch", exc)
            return
        self.metrics.add("refmail_follow_ups_delivered_total", account_name, len(report.delivered))
        if report.waiting and not self.stopping.is_set():  # a dead run's claims, soon stale
            again = claim_ttl(account, self.settings.daemon) / 3
            self._reschedule(f"dispatch:{account_name}", datetime.now(UTC) + again)

    def _housekeeping(self) -> None:
        """Prune the why-log of long-finished follow-ups; the rows themselves are kept."""
        cutoff = self.clock() - timedelta(days=self.settings.daemon.keep_events_days)
        with transaction(self.factory) as session:
            pruned = outbox.prune(session, cutoff)
        log.info("housekeeping: pruned %d old why-log entries", pruned)

    def _busy(self, what: str, account_name: str, exc: BusyError) -> None:
        """Another process runs this account's sync or dispatch. A worker tries again soon: that
        is usually the worker which just handed the account over, finishing its batch in hand;
        waiting a whole interval would leave the account's new mail unread that long."""
        log.info("account %s: %s; this round skipped", account_name, exc)
        if self.worker is not None and not self.stopping.is_set():
            d = self.settings.daemon
            soon = min(
                d.sync_seconds if what == "sync" else d.dispatch_seconds, d.lease_seconds / 3
            )
            self._reschedule(f"{what}:{account_name}", datetime.now(UTC) + timedelta(seconds=soon))

    def _failed(self, state: AccountState, what: str, exc: Exception) -> None:
        """One account's failure: log it, count it, and back off that account only."""
        repeated = what == "dispatch" and state.last_error == str(exc)
        state.failures += 1
        state.last_error = str(exc)
        self.metrics.add("refmail_errors_total", state.name)
        delay = backoff_delay(state.failures, self.settings.daemon.reconnect_max_seconds)
        # Dispatch failing for the reason sync just reported is the same news: one stream.
        log.log(
            logging.DEBUG if repeated else logging.ERROR,
            "account %s: %s failed (%s); next try in %.0f s",
            state.name,
            what,
            exc,
            delay,
        )
        if not self.stopping.is_set():
            self._reschedule(f"{what}:{state.name}", datetime.now(UTC) + timedelta(seconds=delay))

    def _recovered(self, state: AccountState) -> None:
        if state.failures:
            log.info("account %s: working again after %d failure(s)", state.name, state.failures)
        state.failures, state.last_error = 0, ""

    # --- web -------------------------------------------------------------------------------

    def _start_web(self) -> None:
        web = self.settings.web
        if not (self.serve_web and self.settings.daemon.web and web.base_url):
            return
        import uvicorn  # only a daemon that serves pages needs it

        from refmail.httpserver import server_config
        from refmail.owner_web import mount
        from refmail.web import create_app

        context = wiring.web_context(self.parts, self.metrics)
        assert context is not None  # base_url is set
        host, port = web.host_port
        app = create_app(context)
        mount(app, self.settings, self.parts.factory)  # the owner's page at /owner
        server = uvicorn.Server(server_config(app, host, port))
        threading.Thread(target=server.run, name="web", daemon=True).start()
        self._web = server


def claim_ttl(account: config.Account, d: config.Daemon) -> timedelta:
    """How long a dispatch claim lives unrenewed: the account lease, so a dead worker's claims
    are recovered about when its accounts are taken; but at least twice the account's network
    timeout, so a delivery in flight when its claim was last checked has time to land (even if
    its process lost the dispatch lock and lives on, refmail.dispatch explains)."""
    timeouts = [s.timeout for s in (account.imap, account.smtp) if s is not None]
    return timedelta(seconds=max([d.lease_seconds, *(2 * t for t in timeouts)]))


def progress_printer() -> Any:
    """An on_batch callback for a terminal: a rich progress bar per folder being read."""
    from rich.progress import Progress  # only when a person is watching

    progress = Progress(transient=False)
    tasks: dict[str, Any] = {}

    def on_batch(folder: str, batch: Batch, report: SyncReport) -> None:
        if batch.total < 1000 and folder not in tasks:
            return  # small syncs need no bar
        if folder not in tasks:
            progress.start()
            tasks[folder] = progress.add_task(f"{report.account}/{folder}", total=batch.total)
        progress.update(tasks[folder], advance=len(batch.headers))
        if progress.tasks[tasks[folder]].finished:
            progress.stop()

    return on_batch
