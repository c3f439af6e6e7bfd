"""The ``busbar`` command line.

    busbar serve          run the server (EventBridge API on http://HOST:PORT)
    busbar test-pattern   check an event against an event pattern, offline
    busbar events         read the stored events (--follow: tail them)
    busbar deliveries     list the deliveries waiting to be sent, with their last error
    busbar dead-letters   list or redrive deliveries that could not be delivered
    busbar bus-logs       print an event bus's log records (its LogConfig)
    busbar log-groups     read what log-group targets were sent (tail, --follow)
    busbar replays        show the progress of replays on a running server
    busbar backup         copy a data directory's store, online, consistently
    busbar secrets        rotate the key that seals connection secrets

Every ``serve`` flag can also be set with a ``BUSBAR_*`` environment variable;
a flag wins over the environment.  The commands that read a data directory
(``events``, ``dead-letters list``, ``backup``) work beside a running server and
honour ``BUSBAR_DATA_DIR`` too; what writes to the store goes through the server.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from busbar import __version__
from busbar.config import Limits, Settings
from busbar.store.base import Unavailable

_ENV_NOTE = "Each option can also be set with the environment variable shown in brackets."


def _serve_parser(sub: Any) -> None:
    defaults = Settings()
    p = sub.add_parser(
        "serve",
        help="run the busbar server",
        description="Run busbar: the EventBridge API (AWS JSON 1.1) on POST / and a health check on "
        "GET /health, storing everything durably under --data-dir. " + _ENV_NOTE,
    )
    p.add_argument("--host", default=None, help=f"address to listen on [BUSBAR_HOST] (default {defaults.host})")
    p.add_argument("--port", type=int, default=None, help=f"TCP port [BUSBAR_PORT] (default {defaults.port})")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the embedded store lives, and with --store nats:// the node's lock and secrets key; "
        f"created if missing [BUSBAR_DATA_DIR] (default ./{defaults.data_dir})",
    )
    _store_options(p, serving=True)
    p.add_argument(
        "--region", default=None, help=f"region named in ARNs and events [BUSBAR_REGION] (default {defaults.region})"
    )
    p.add_argument(
        "--account-id",
        default=None,
        help=f"12-digit account named in ARNs and events [BUSBAR_ACCOUNT_ID] (default {defaults.account_id})",
    )
    p.add_argument(
        "--log-level",
        default=None,
        choices=["debug", "info", "warning", "error"],
        help=f"debug logs every request [BUSBAR_LOG_LEVEL] (default {defaults.log_level})",
    )
    p.add_argument(
        "--sync",
        default=None,
        choices=["full", "normal"],
        help="full: fsync every group commit, survives power loss; normal: survives a crash of "
        f"busbar, not of the machine [BUSBAR_SYNC] (default {defaults.sync})",
    )
    p.add_argument(
        "--max-put-events-request-bytes",
        type=int,
        default=None,
        help="largest total entry size of one PutEvents request [BUSBAR_MAX_PUT_EVENTS_REQUEST_BYTES] "
        f"(default {Limits().max_put_events_request_bytes})",
    )
    p.add_argument(
        "--max-event-descendants",
        type=int,
        default=None,
        help="events that may descend from one event through bus-to-bus forwards; copies beyond it are "
        f"dead-lettered (LoopDetected) [BUSBAR_MAX_EVENT_DESCENDANTS] (default {Limits().max_event_descendants})",
    )
    p.add_argument(
        "--put-events-per-second",
        type=int,
        default=None,
        help="PutEvents entries accepted per second; beyond it entries fail with the retryable "
        "ThrottlingException; 0 is unlimited [BUSBAR_PUT_EVENTS_PER_SECOND] (default 0)",
    )
    p.add_argument(
        "--retry-base-delay",
        type=float,
        default=None,
        help="seconds before the first retry of a failed delivery; each next retry waits about twice "
        f"as long (with jitter) [BUSBAR_RETRY_BASE_DELAY] (default {defaults.retry_base_delay:g})",
    )
    p.add_argument(
        "--retry-max-delay",
        type=float,
        default=None,
        help=f"longest wait between two retries [BUSBAR_RETRY_MAX_DELAY] (default {defaults.retry_max_delay:g})",
    )
    p.add_argument(
        "--delivery-concurrency",
        type=int,
        default=None,
        help=f"deliveries in flight at once [BUSBAR_DELIVERY_CONCURRENCY] (default {defaults.delivery_concurrency})",
    )
    p.add_argument(
        "--delivery-window",
        type=int,
        default=None,
        help="deliveries held in memory at most; the rest wait in the store "
        f"[BUSBAR_DELIVERY_WINDOW] (default {defaults.delivery_window})",
    )
    p.add_argument(
        "--event-retention-seconds",
        type=int,
        default=None,
        help="how long routed events stay in the store; 0 keeps them forever "
        f"[BUSBAR_EVENT_RETENTION_SECONDS] (default {defaults.event_retention_seconds})",
    )
    p.add_argument(
        "--auth-keys-file",
        type=Path,
        default=None,
        help="require SigV4-signed requests made with one of the access keys in this file "
        "('ACCESS_KEY_ID SECRET_ACCESS_KEY [ACCOUNT_ID]' per line; a request acts in its key's account, "
        "by default --account-id, and in the region it is signed for) [BUSBAR_AUTH_KEYS_FILE] "
        "(default: none, any signature is accepted)",
    )
    p.add_argument(
        "--aws-targets",
        action="store_true",
        default=None,
        help="deliver to AWS service targets (SQS, SNS, Lambda, Kinesis, Firehose, Step Functions, CloudWatch "
        "Logs, buses of other accounts or regions) through their APIs, with the standard AWS SDK configuration "
        "(credential chain, AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>, profiles) [BUSBAR_AWS_TARGETS] "
        "(default: off; such targets are refused and log groups are local files)",
    )
    p.add_argument(
        "--assume-target-roles",
        action="store_true",
        default=None,
        help="call each AWS target as its RoleArn (STS AssumeRole, cached until near expiry) instead of as "
        "busbar's own credentials; needs --aws-targets [BUSBAR_ASSUME_TARGET_ROLES] (default: off, RoleArn is "
        "checked but not used)",
    )
    p.add_argument(
        "--endpoint-health-interval",
        type=float,
        default=None,
        help="seconds between two reads of the Route 53 health checks of global endpoints (GetHealthCheckStatus, "
        "with the standard AWS SDK configuration: credential chain, AWS_ENDPOINT_URL_ROUTE_53, profiles) "
        f"[BUSBAR_ENDPOINT_HEALTH_INTERVAL] (default {defaults.endpoint_health_interval:g})",
    )
    p.add_argument(
        "--secrets-key-file",
        type=Path,
        default=None,
        help="the keys that seal connection secrets at rest, newest first; made (0600) on first start "
        "[BUSBAR_SECRETS_KEY_FILE] (default: secrets.key in the data directory)",
    )
    p.add_argument(
        "--max-request-body-bytes",
        type=int,
        default=None,
        help="largest request body read; larger ones are refused unread; 0 is four times "
        "--max-put-events-request-bytes, at least 1 MiB [BUSBAR_MAX_REQUEST_BODY_BYTES] (default 0)",
    )
    p.add_argument(
        "--http-max-header-bytes",
        type=int,
        default=None,
        help="most bytes of request line and headers one request may send; more is answered 431 "
        f"[BUSBAR_HTTP_MAX_HEADER_BYTES] (default {defaults.http_max_header_bytes})",
    )
    p.add_argument(
        "--http-request-timeout",
        type=int,
        default=None,
        help="seconds a client has to send a whole request (headers and body) once it has begun; "
        f"slower ones get 408 and are disconnected [BUSBAR_HTTP_REQUEST_TIMEOUT] "
        f"(default {defaults.http_request_timeout})",
    )
    p.add_argument(
        "--http-keep-alive-timeout",
        type=int,
        default=None,
        help="seconds a connection may sit idle before its first request or between requests "
        f"[BUSBAR_HTTP_KEEP_ALIVE_TIMEOUT] (default {defaults.http_keep_alive_timeout})",
    )
    p.add_argument(
        "--http-max-connections",
        type=int,
        default=None,
        help="most client connections open at once (fewer if the open-file limit, raised to its hard "
        "limit at start, is lower); beyond it the longest-idle connection is closed, or the new one "
        f"answered 503 if all are busy [BUSBAR_HTTP_MAX_CONNECTIONS] (default {defaults.http_max_connections})",
    )
    p.add_argument(
        "--replay-events-per-second",
        type=int,
        default=None,
        help="how fast a replay puts archived events back on its bus; replays also wait while live events "
        f"wait to be routed [BUSBAR_REPLAY_EVENTS_PER_SECOND] (default {defaults.replay_events_per_second})",
    )
    _observe_options(p)
    p.set_defaults(func=_serve)


# The serve options of busbar.observe and busbar.console (metrics, the console, library logs).
_OBSERVE_SETTINGS = (
    "metrics",
    "metrics_host",
    "metrics_port",
    "console",
    "log_libraries",
    "failure_log_burst",
    "failure_log_per_minute",
)


def _observe_options(p: argparse.ArgumentParser) -> None:
    defaults = Settings()
    p.add_argument(
        "--metrics",
        choices=["on", "off"],
        default=None,
        help="count EventBridge's CloudWatch metrics for GET /metrics (Prometheus) [BUSBAR_METRICS] (default on)",
    )
    p.add_argument(
        "--metrics-host",
        default=None,
        help="address of a listener that serves only /metrics; with --auth-keys-file, /metrics is served there "
        f"only [BUSBAR_METRICS_HOST] (default {defaults.metrics_host})",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="port of that listener; 0 starts none [BUSBAR_METRICS_PORT] (default 0)",
    )
    p.add_argument(
        "--console",
        choices=["on", "off"],
        default=None,
        help="serve the web console at /console/ on the API's listener; with --auth-keys-file it asks for an "
        "access key pair [BUSBAR_CONSOLE] (default on)",
    )
    p.add_argument(
        "--log-libraries",
        default=None,
        choices=["debug", "info", "warning", "error"],
        help="log level of the libraries busbar uses (aiohttp, botocore, asyncio, ...); busbar's own lines follow "
        f"--log-level [BUSBAR_LOG_LIBRARIES] (default {defaults.log_libraries})",
    )
    p.add_argument(
        "--failure-log-burst",
        type=int,
        default=None,
        help="failed delivery attempts and dead letters logged at once per target before rationing "
        f"[BUSBAR_FAILURE_LOG_BURST] (default {defaults.failure_log_burst})",
    )
    p.add_argument(
        "--failure-log-per-minute",
        type=float,
        default=None,
        help="then at most this many lines a minute per target; the next line says how many were suppressed "
        f"[BUSBAR_FAILURE_LOG_PER_MINUTE] (default {defaults.failure_log_per_minute:g})",
    )


def _observe_overrides(args: argparse.Namespace) -> dict[str, Any]:
    values = {key: getattr(args, key) for key in _OBSERVE_SETTINGS}
    for key in ("metrics", "console"):
        if values[key] is not None:
            values[key] = values[key] == "on"
    return values


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from busbar import logs
    from busbar.server.app import BusbarApp
    from busbar.server.protocol import HttpLimits, connection_cap, guarded_protocol, raise_open_file_limit
    from busbar.store.base import CannotStart
    from busbar.store.datadir import DataDirError

    # Whatever busbar writes (the store and its -wal and -shm, log groups, the key) is for
    # its own user only.
    os.umask(0o077)
    overrides = {
        key: getattr(args, key)
        for key in (
            "host",
            "port",
            "data_dir",
            "region",
            "account_id",
            "log_level",
            "sync",
            "max_put_events_request_bytes",
            "max_event_descendants",
            "put_events_per_second",
            "retry_base_delay",
            "retry_max_delay",
            "delivery_concurrency",
            "delivery_window",
            "event_retention_seconds",
            "auth_keys_file",
            "aws_targets",
            "assume_target_roles",
            "replay_events_per_second",
            "secrets_key_file",
            "endpoint_health_interval",
            "max_request_body_bytes",
            "http_max_header_bytes",
            "http_request_timeout",
            "http_keep_alive_timeout",
            "http_max_connections",
            *STORE_OPTIONS,
            "nats_replicas",
            "nats_ack_wait",
        )
    }
    overrides.update(_observe_overrides(args))  # busbar.observe / busbar.console options
    try:
        settings = Settings.from_env(overrides)
    except ValueError as error:
        print(f"busbar serve: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_libraries)
    try:
        app = BusbarApp(settings)
    except (ValueError, OSError, DataDirError, CannotStart) as error:
        print(f"busbar serve: {error}", file=sys.stderr)
        return 2
    open_files = raise_open_file_limit()
    max_connections = connection_cap(settings.http_max_connections, open_files)
    if max_connections < settings.http_max_connections:
        logging.getLogger("busbar").warning(
            "the open-file limit caps client connections",
            extra={"open_file_limit": open_files, "max_connections": max_connections},
        )
    limits = HttpLimits(settings.http_max_header_bytes, settings.http_request_timeout, max_connections)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        loop="uvloop",
        http=guarded_protocol(limits),
        timeout_keep_alive=settings.http_keep_alive_timeout,
        timeout_graceful_shutdown=10,  # requests in flight get 10 s; a console live tail is cut
    )
    server = _graceful_server_class()(config)
    app.observer.gauge("open_connections", "Open HTTP connections.", lambda: len(server.server_state.connections))
    logging.getLogger("busbar").info(
        "busbar listening", extra={"url": f"http://{settings.host}:{settings.port}", "version": __version__}
    )
    server.run()
    return 0 if server.started else 1


def _graceful_server_class() -> Any:
    import uvicorn

    class GracefulServer(uvicorn.Server):
        """uvicorn re-raises SIGTERM after a graceful shutdown, so the process dies
        "by signal"; busbar exits 0 instead once everything in flight is committed."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return GracefulServer


def _test_pattern_parser(sub: Any) -> None:
    p = sub.add_parser(
        "test-pattern",
        help="check an event against an event pattern (no server needed)",
        description="Print true if EVENT matches PATTERN, false if not; exit 0 on a match, 1 on no match, "
        "2 if the pattern is invalid (with AWS's message). Each argument is JSON text or @FILE.",
    )
    p.add_argument("pattern", help="the event pattern: JSON text or @path/to/pattern.json")
    p.add_argument("event", help="the event: JSON text or @path/to/event.json")
    p.set_defaults(func=_test_pattern)


class _BadInput(Exception):
    """An argument of a command that cannot be used; the message is shown as is."""


def _read_arg(value: str) -> str:
    """JSON text as given, or the text of the file ``@path`` names."""
    if not value.startswith("@"):
        return value
    try:
        return Path(value[1:]).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise _BadInput(f"cannot read {value[1:]}: {reason}") from None


def _test_pattern(args: argparse.Namespace) -> int:
    from busbar.patterns import InvalidEventPattern, pattern_matches, validate
    from busbar.patterns.events import EventNotObject, parse_event

    try:
        compiled = validate(_read_arg(args.pattern))
        try:
            event = parse_event(_read_arg(args.event))
        except EventNotObject:
            raise _BadInput("the event must be a JSON object") from None
        except (ValueError, RecursionError) as error:
            raise _BadInput(f"the event is not valid JSON: {error}") from None
    except InvalidEventPattern as error:
        # AWS's message puts the parser position on a second line; a command says it on one.
        print(" ".join(part.strip() for part in str(error).splitlines()), file=sys.stderr)
        return 2
    except _BadInput as error:
        # Exit 1 means "no match": a command that could not run says so with 2.
        print(f"busbar test-pattern: {error}", file=sys.stderr)
        return 2
    matched = pattern_matches(compiled, event)
    print("true" if matched else "false")
    return 0 if matched else 1


def _data_dir_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"the server's data directory [BUSBAR_DATA_DIR] (default ./{Settings().data_dir})",
    )


def _data_dir(args: argparse.Namespace) -> Path:
    """--data-dir, else BUSBAR_DATA_DIR, else the default: what ``serve`` would use."""
    if args.data_dir is not None:
        return Path(args.data_dir)
    return Path(os.environ.get("BUSBAR_DATA_DIR") or Settings().data_dir)


def _key_file(args: argparse.Namespace) -> Path:
    """--secrets-key-file, else BUSBAR_SECRETS_KEY_FILE, else the data directory's: what ``serve`` would use."""
    from busbar.resources.secretbox import KEY_FILE_NAME

    given = args.secrets_key_file or os.environ.get("BUSBAR_SECRETS_KEY_FILE")
    return Path(given) if given else _data_dir(args) / KEY_FILE_NAME


def _key_file_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--secrets-key-file",
        type=Path,
        default=None,
        help="the server's secrets key file [BUSBAR_SECRETS_KEY_FILE] (default: secrets.key in the data directory)",
    )


# The options naming the store, shared by ``serve`` and the commands that read a store.
STORE_OPTIONS = ("store", "nats_creds", "nats_tls_ca", "nats_tls_cert", "nats_tls_key", "nats_prefix")


def _store_options(p: argparse.ArgumentParser, serving: bool = False) -> None:
    defaults = Settings()
    p.add_argument(
        "--store",
        default=None,
        help="'sqlite' (the embedded store in --data-dir) or the URLs of a NATS JetStream cluster, "
        "comma-separated: nats://[user:password@]host:port or tls://host:port (every busbar node of "
        f"a deployment names the same cluster) [BUSBAR_STORE] (default {defaults.store})",
    )
    if serving:
        p.add_argument(
            "--nats-replicas",
            type=int,
            default=None,
            help="servers that keep a copy of each of busbar's streams and buckets: 3 in a 3-server "
            f"cluster, 1 for a single server [BUSBAR_NATS_REPLICAS] (default {defaults.nats_replicas})",
        )
        p.add_argument(
            "--nats-ack-wait",
            type=float,
            default=None,
            help="seconds an event or a delivery taken by a node stays leased to it without news; "
            "the work of a node that died is taken up by another after this long "
            f"[BUSBAR_NATS_ACK_WAIT] (default {defaults.nats_ack_wait:g})",
        )
    p.add_argument("--nats-creds", type=Path, default=None, help="NATS credentials file (.creds) [BUSBAR_NATS_CREDS]")
    p.add_argument("--nats-tls-ca", type=Path, default=None, help="CA certificate to trust [BUSBAR_NATS_TLS_CA]")
    p.add_argument("--nats-tls-cert", type=Path, default=None, help="client certificate [BUSBAR_NATS_TLS_CERT]")
    p.add_argument("--nats-tls-key", type=Path, default=None, help="client certificate's key [BUSBAR_NATS_TLS_KEY]")
    p.add_argument(
        "--nats-prefix",
        default=None,
        help="prefix of busbar's streams, buckets and subjects, so that several deployments can share a "
        f"cluster [BUSBAR_NATS_PREFIX] (default {defaults.nats_prefix})",
    )


def _reading_settings(args: argparse.Namespace) -> Settings:
    """The settings a reading command shares with ``serve``: its flags, else BUSBAR_* variables."""
    overrides = {name: getattr(args, name, None) for name in (*STORE_OPTIONS, "data_dir")}
    return Settings.from_env(overrides)


def _open_store(command: str, args: argparse.Namespace, need_db: bool = True) -> Any:
    """The store to read (no lock: the server may be running), or None: a SqliteStore on the
    data directory, or a NatsStore (its reads need no start) with --store nats://."""
    try:
        settings = _reading_settings(args)
    except ValueError as error:
        print(f"busbar {command}: {error}", file=sys.stderr)
        return None
    if settings.clustered:
        from busbar.store.nats import NatsOptions, NatsStore

        return NatsStore(NatsOptions.from_settings(settings))
    from busbar.store.sqlite import SqliteStore

    store = SqliteStore(settings.data_dir, home=(settings.account_id, settings.region))
    if need_db and not store.path.exists():
        print(f"busbar {command}: no store at {store.path}", file=sys.stderr)
        return None
    return store


def _done_reading(store: Any) -> None:
    """Close what a store opened for reading (a NATS store's connection)."""
    close = getattr(store, "close_reads", None)
    if close is not None:
        close()


@contextlib.contextmanager
def _quiet_broken_pipe() -> Iterator[None]:
    """``busbar events | head`` stops reading early: that is not an error."""
    try:
        yield
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _events_parser(sub: Any) -> None:
    p = sub.add_parser(
        "events",
        help="print the stored events (a data directory, or a NATS store with --store)",
        description="Print the stored events of a data directory (or of the NATS store --store names) as JSON "
        "lines, oldest first (the server may be running). Each line is {seq, bus, event}. Routed events are kept "
        "for --event-retention-seconds of the server (a day by default).",
    )
    _data_dir_option(p)
    _store_options(p)
    p.add_argument("--bus", default=None, help="only events of this bus")
    p.add_argument("--after", type=int, default=None, help="only events with a sequence number above this (default 0)")
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        help="print at most this many events, and say on stderr when there were more "
        "(default: print every event, streamed)",
    )
    p.add_argument(
        "--pattern",
        default=None,
        help="only events this event pattern matches: JSON text or @FILE (exit 2 with AWS's message if invalid)",
    )
    p.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="print events as they are committed, until interrupted; starts at the newest event unless --after "
        "is given",
    )
    p.set_defaults(func=_events)


def _events(args: argparse.Namespace) -> int:
    matches = _pattern_filter("events", args.pattern)
    if matches is False:
        return 2
    store = _open_store("events", args)
    if store is None:
        return 2
    try:
        return _print_events(store, args, matches)
    except Unavailable as error:
        print(f"busbar events: {error}", file=sys.stderr)
        return 2
    finally:
        _done_reading(store)


def _print_events(store: Any, args: argparse.Namespace, matches: Any) -> int:
    import time

    from busbar.resources.scope import name_of_key

    printed = 0
    after = args.after if args.after is not None else (store.last_seq() if args.follow else 0)
    with _quiet_broken_pipe(), contextlib.suppress(KeyboardInterrupt):
        while True:
            batch = store.read_events(after, limit=1000)
            if not batch:
                if not args.follow:
                    return 0
                sys.stdout.flush()
                time.sleep(0.2)
                continue
            for event in batch:
                bus = name_of_key(event.bus)  # the store keys buses by account/region/name
                envelope = orjson.loads(event.envelope)
                if (args.bus and args.bus not in (bus, event.bus)) or (matches is not None and not matches(envelope)):
                    after = event.seq
                    continue
                if args.limit is not None and printed >= args.limit:
                    sys.stdout.flush()
                    print(
                        f"busbar events: stopped after {printed} events (--limit {args.limit}); there are more "
                        f"(next: --after {after})",
                        file=sys.stderr,
                    )
                    return 0
                after = event.seq
                line = {"seq": event.seq, "bus": bus, "event": envelope}
                sys.stdout.write(orjson.dumps(line).decode() + "\n")
                printed += 1
    return 0


def _pattern_filter(command: str, given: str | None) -> Any:
    """A function telling whether an event matches the pattern *given* (None without one;
    False, after saying why, when the pattern is invalid)."""
    if given is None:
        return None
    from busbar.patterns import InvalidEventPattern, pattern_matches, validate

    try:
        compiled = validate(_read_arg(given))
    except InvalidEventPattern as error:
        print(f"busbar {command}: {error}", file=sys.stderr)
        return False
    return lambda event: pattern_matches(compiled, event)


def _deliveries_parser(sub: Any) -> None:
    p = sub.add_parser(
        "deliveries",
        help="list the deliveries waiting to be sent",
        description="Deliveries busbar has not finished: due now, or waiting for their next attempt after a "
        "failure. 'list' prints them as JSON lines (works with the server up or down); dead ones are listed by "
        "'busbar dead-letters list'.",
    )
    actions = p.add_subparsers(title="actions", metavar="ACTION")
    show = actions.add_parser("list", help="print pending deliveries as JSON lines, oldest first")
    _listing_options(show)
    show.set_defaults(func=_deliveries_list)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _listing_options(show: argparse.ArgumentParser) -> None:
    """The options of ``deliveries list`` and ``dead-letters list``."""
    _data_dir_option(show)
    _store_options(show)
    show.add_argument("--limit", type=int, default=None, help="print at most this many (default: all)")
    show.add_argument("--with-event", action="store_true", help="include the event of each delivery")


def _deliveries_list(args: argparse.Namespace) -> int:
    return _list_deliveries("deliveries", args, "pending_deliveries")


def _list_deliveries(command: str, args: argparse.Namespace, which: str) -> int:
    """Print the store's pending or dead deliveries (*which* names the store's method)."""
    store = _open_store(command, args)
    if store is None:
        return 2
    try:
        return _print_deliveries(getattr(store, which), args)
    except Unavailable as error:
        print(f"busbar {command}: {error}", file=sys.stderr)
        return 2
    finally:
        _done_reading(store)


def _print_deliveries(read: Any, args: argparse.Namespace) -> int:
    """Page through *read* (``pending_deliveries`` or ``dead_deliveries``), one JSON line each."""
    import time

    printed, after = 0, 0
    with _quiet_broken_pipe():
        while args.limit is None or printed < args.limit:
            page = read(after, 1000 if args.limit is None else min(1000, args.limit - printed))
            if not page:
                break
            for delivery in page:
                after = delivery.id
                line: dict[str, Any] = {
                    "id": delivery.id,
                    "event_id": delivery.event_id,
                    "bus": delivery.bus,
                    "rule_arn": delivery.rule_arn,
                    "target_id": delivery.target["Id"],
                    "target_arn": delivery.target["Arn"],
                    "attempts": delivery.attempts,
                    "error_code": delivery.error_code,
                    "error_message": delivery.error_message,
                }
                if delivery.state == "pending":
                    due = time.gmtime(delivery.due_at)
                    line["next_attempt_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", due)
                if args.with_event:
                    line["event"] = orjson.loads(delivery.envelope)
                sys.stdout.write(orjson.dumps(line).decode() + "\n")
                printed += 1
    return 0


def _dead_letters_parser(sub: Any) -> None:
    p = sub.add_parser(
        "dead-letters",
        help="list or redrive deliveries busbar gave up on",
        description="Deliveries whose retries ran out (or whose target refused them) and whose target has no "
        "DeadLetterConfig are kept in the store as dead letters. 'list' prints them; 'redrive' "
        "makes them pending again on a running server, with fresh retries.",
    )
    dead = p.add_subparsers(title="actions", metavar="ACTION")
    show = dead.add_parser("list", help="print dead deliveries as JSON lines (works with the server up or down)")
    _listing_options(show)
    show.set_defaults(func=_dead_letters_list)
    redrive = dead.add_parser("redrive", help="send dead deliveries again (asks the running server)")
    redrive.add_argument(
        "--endpoint-url", default=f"http://127.0.0.1:{Settings().port}", help="the running busbar server"
    )
    redrive.add_argument("ids", nargs="*", type=int, help="delivery ids to redrive (default: all)")
    redrive.set_defaults(func=_dead_letters_redrive)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _dead_letters_list(args: argparse.Namespace) -> int:
    store = _open_store("dead-letters", args)
    if store is None:
        return 2
    return _list_deliveries("dead-letters", args, "dead_deliveries")


def _dead_letters_redrive(args: argparse.Namespace) -> int:
    import httpx

    url = args.endpoint_url.rstrip("/") + "/busbar/dead-letters/redrive"
    body = orjson.dumps({"ids": args.ids} if args.ids else {})
    try:
        response = httpx.post(url, content=body, headers=_signed_headers(url, body), timeout=30)
    except httpx.HTTPError as error:
        print(f"busbar dead-letters redrive: cannot reach {args.endpoint_url}: {error}", file=sys.stderr)
        return 2
    if response.status_code != 200:
        print(f"busbar dead-letters redrive: {response.text}", file=sys.stderr)
        return 2
    redriven = response.json()["redriven"]
    print(f"redriven {len(redriven)} deliveries" + (f": {', '.join(map(str, redriven))}" if redriven else ""))
    return 0


def _replays_parser(sub: Any) -> None:
    p = sub.add_parser(
        "replays",
        help="show the progress of replays on a running server",
        description="Print each replay (StartReplay) with its state and a progress bar: events put back on the "
        "bus out of those its time range held when it started. With --watch, redraw until every replay shown "
        "has finished.",
    )
    p.add_argument("--endpoint-url", default=f"http://127.0.0.1:{Settings().port}", help="the running busbar server")
    p.add_argument("--watch", action="store_true", help="redraw every --interval seconds until the replays finish")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between redraws with --watch")
    p.add_argument("names", nargs="*", help="only these replays (default: all)")
    p.set_defaults(func=_replays)


_FINISHED = ("COMPLETED", "CANCELLED", "FAILED")


def progress_line(replay: dict[str, Any], width: int = 30) -> str:
    """One replay as ``name STATE [#####.....] 50% 5/10 events``."""
    done, total = replay["replayed"], replay["total"]
    if replay["state"] == "COMPLETED":
        total = total if total is not None else done
        fraction = 1.0
    else:
        fraction = min(1.0, done / total) if total else 0.0
    filled = int(fraction * width)
    bar = "#" * filled + "." * (width - filled)
    counted = f"{done}/{total}" if total is not None else f"{done}/?"
    return f"{replay['name']:<24} {replay['state']:<10} [{bar}] {fraction:4.0%} {counted} events"


def _replays(args: argparse.Namespace) -> int:
    import time

    import httpx

    url = args.endpoint_url.rstrip("/") + "/busbar/replays"
    drawn = 0
    while True:
        try:
            response = httpx.get(url, headers=_signed_headers(url, b"", "GET"), timeout=30)
        except httpx.HTTPError as error:
            print(f"busbar replays: cannot reach {args.endpoint_url}: {error}", file=sys.stderr)
            return 2
        if response.status_code != 200:
            print(f"busbar replays: {response.text}", file=sys.stderr)
            return 2
        shown = [r for r in response.json()["replays"] if not args.names or r["name"] in args.names]
        lines = [progress_line(replay) for replay in shown] or ["no replays"]
        if drawn and sys.stdout.isatty():
            sys.stdout.write(f"\x1b[{drawn}F")  # back to the first line drawn last time
        sys.stdout.write("".join(line + "\x1b[K\n" if sys.stdout.isatty() else line + "\n" for line in lines))
        sys.stdout.flush()
        drawn = len(lines)
        if not args.watch or all(replay["state"] in _FINISHED for replay in shown):
            return 0
        time.sleep(args.interval)


def _signed_headers(url: str, body: bytes, method: str = "POST") -> dict[str, str]:
    """SigV4 headers made with the caller's AWS credentials (environment, profile), if any:
    a server started with --auth-keys-file wants its admin routes signed too."""
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    headers = {"Content-Type": "application/json"}
    session = botocore.session.get_session()
    credentials = session.get_credentials()
    if credentials is None:
        return headers
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(credentials, "events", session.get_config_variable("region") or "us-east-1").add_auth(request)
    return dict(request.headers.items())


def _bus_logs_parser(sub: Any) -> None:
    p = sub.add_parser(
        "bus-logs",
        help="print an event bus's log records",
        description="Print the records event bus logging wrote for BUS (set with CreateEventBus/UpdateEventBus "
        "LogConfig: Level OFF, ERROR, INFO or TRACE; IncludeDetail FULL or NONE), one JSON object per line, "
        "oldest first. They are kept in the bus's log group /aws/vendedlogs/events/event-bus/BUS, in the store "
        "(whichever node wrote them).",
    )
    p.add_argument("bus", metavar="BUS", help="the event bus's name")
    _data_dir_option(p)
    _store_options(p)
    p.add_argument("--account-id", default=None, help="the bus's account [BUSBAR_ACCOUNT_ID] (default: the server's)")
    p.add_argument("--region", default=None, help="the bus's region [BUSBAR_REGION] (default: the server's)")
    p.add_argument("--follow", "-f", action="store_true", help="print records as they are written, until interrupted")
    p.set_defaults(func=_bus_logs)


def _bus_logs(args: argparse.Namespace) -> int:
    import time

    from busbar.observe.buslogs import bus_log_group, records_of
    from busbar.resources.scope import Scope

    store = _open_store("bus-logs", args, need_db=False)
    if store is None:
        return 2
    settings = _reading_settings(args)
    group = bus_log_group(Scope(args.account_id or settings.account_id, args.region or settings.region).key(args.bus))
    after, printed = 0, 0
    with _quiet_broken_pipe(), contextlib.suppress(KeyboardInterrupt):
        try:
            while True:
                lines = store.read_log_lines(group, after, 1000)
                for record in records_of(lines):
                    sys.stdout.write(orjson.dumps(record).decode() + "\n")
                    printed += 1
                if lines:
                    after = lines[-1].position
                if len(lines) < 1000:
                    if not args.follow:
                        if not printed:
                            print(
                                f"busbar bus-logs: no records for bus {args.bus} (is its LogConfig Level OFF?)",
                                file=sys.stderr,
                            )
                        return 0
                    sys.stdout.flush()
                    time.sleep(0.2)
        except Unavailable as error:
            print(f"busbar bus-logs: {error}", file=sys.stderr)
            return 2
        finally:
            _done_reading(store)
    return 0


def _log_groups_parser(sub: Any) -> None:
    p = sub.add_parser(
        "log-groups",
        help="read what log-group targets were sent",
        description="Every payload delivered to a log-group target is kept as one JSON line of its log group, "
        "whichever node delivered it (the embedded store: <data-dir>/log-groups/<name>.jsonl).",
    )
    actions = p.add_subparsers(title="actions", metavar="ACTION")
    tail = actions.add_parser(
        "tail",
        help="print a log group's lines, oldest first",
        description="Print the lines of log group NAME (of the server's account and region, unless told "
        "otherwise); with --follow, keep printing new lines as they come. " + _ENV_NOTE,
    )
    tail.add_argument("name", metavar="NAME", help="the log group's name")
    tail.add_argument("--follow", "-f", action="store_true", help="keep printing new lines (stop with Ctrl-C)")
    tail.add_argument("--region", default=None, help="the log group's region [BUSBAR_REGION]")
    tail.add_argument("--account-id", default=None, help="the log group's account [BUSBAR_ACCOUNT_ID]")
    _data_dir_option(tail)
    _store_options(tail)
    tail.set_defaults(func=_log_groups_tail)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _log_groups_tail(args: argparse.Namespace) -> int:
    import time

    store = _open_store("log-groups tail", args, need_db=False)
    if store is None:
        return 2
    settings = _reading_settings(args)
    group = f"{args.account_id or settings.account_id}/{args.region or settings.region}/{args.name}"
    after = 0
    with _quiet_broken_pipe():
        try:
            while True:
                lines = store.read_log_lines(group, after, 1000)
                for line in lines:
                    sys.stdout.write(line.line.decode("utf-8", "replace") + "\n")
                    after = line.position
                sys.stdout.flush()
                if len(lines) < 1000:
                    if not args.follow:
                        return 0
                    time.sleep(0.5)
        except KeyboardInterrupt:
            return 0
        except Unavailable as error:
            print(f"busbar log-groups tail: {error}", file=sys.stderr)
            return 2
        finally:
            _done_reading(store)


def _backup_parser(sub: Any) -> None:
    p = sub.add_parser(
        "backup",
        help="copy a data directory's store, consistently, while the server runs",
        description="Copy the store of a data directory into DEST, a new directory that is itself a data "
        "directory ('busbar serve --data-dir DEST' starts from it). The copy is consistent: every event "
        "acknowledged before the backup started, taken while the server keeps running; progress (pages "
        "copied) goes to stderr. The secrets key is left out unless --with-secrets-key: keep it apart.",
    )
    p.add_argument("dest", metavar="DEST", type=Path, help="a new (or empty) directory for the copy")
    _data_dir_option(p)
    p.add_argument(
        "--with-secrets-key",
        action="store_true",
        help="copy the secrets key file into DEST too (without it, the copy's connection secrets open "
        "only with the key kept elsewhere)",
    )
    _key_file_option(p)
    p.set_defaults(func=_backup)


def _backup(args: argparse.Namespace) -> int:
    from busbar.backup import BackupError, backup

    shown = -1

    def progress(copied: int, total: int) -> None:
        nonlocal shown
        tenth = copied * 10 // max(total, 1)
        if tenth != shown:  # a line per tenth: a long backup says how far it is, a short one stays short
            shown = tenth
            print(f"busbar backup: {copied} of {total} pages copied", file=sys.stderr, flush=True)

    key = _key_file(args) if args.with_secrets_key else None
    try:
        pages = backup(_data_dir(args), args.dest, with_key=key, progress=progress)
    except (BackupError, OSError) as error:
        print(f"busbar backup: {error}", file=sys.stderr)
        return 2
    print(f"busbar backup: {args.dest} holds a consistent copy ({pages} pages, quick_check ok)", file=sys.stderr)
    if key is None:
        print(
            f"busbar backup: the secrets key was not copied; keep {_key_file(args)} apart, or use --with-secrets-key",
            file=sys.stderr,
        )
    return 0


def _secrets_parser(sub: Any) -> None:
    p = sub.add_parser(
        "secrets",
        help="rotate the key that seals connection secrets",
        description="Connection secrets are sealed in the store with the first key of the secrets key file.",
    )
    actions = p.add_subparsers(title="actions", metavar="ACTION")
    rotate = actions.add_parser(
        "rotate",
        help="put a new key first in the key file",
        description="Put a new key first in the secrets key file (made 0600 if missing), keeping the old ones "
        "after it. Then restart the server: it seals every stored secret again with the new key and logs "
        "'connection secrets sealed with the newest key'. After that the old keys can be deleted from the file.",
    )
    _data_dir_option(rotate)
    _key_file_option(rotate)
    rotate.set_defaults(func=_secrets_rotate)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _secrets_rotate(args: argparse.Namespace) -> int:
    from busbar.resources.secretbox import SecretsKeyError, rotate_key_file

    path = _key_file(args)
    try:
        count = rotate_key_file(path)
    except (SecretsKeyError, OSError) as error:
        print(f"busbar secrets rotate: {error}", file=sys.stderr)
        return 2
    print(
        f"a new key is first in {path} ({count} keys). Restart busbar to seal the stored secrets with it; "
        "once it logs 'connection secrets sealed with the newest key', the older keys can be deleted."
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="busbar",
        description="busbar: a self-hosted event bus that speaks Amazon EventBridge's API. "
        "Point any AWS SDK or the AWS CLI at it with --endpoint-url.",
        epilog="Run 'busbar COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"busbar {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    _serve_parser(sub)
    _test_pattern_parser(sub)
    _events_parser(sub)
    _deliveries_parser(sub)
    _dead_letters_parser(sub)
    _bus_logs_parser(sub)
    _log_groups_parser(sub)
    _replays_parser(sub)
    _backup_parser(sub)
    _secrets_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
