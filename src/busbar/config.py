"""Every setting of busbar in one place.

Each setting has a command-line flag and a ``BUSBAR_<NAME>`` environment variable;
a flag wins over the environment, the environment over the default.  Limits default
to the documented EventBridge quotas.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from busbar.model.arns import is_account, is_region
from busbar.model.size import DEFAULT_MAX_REQUEST_BYTES


@dataclass(frozen=True)
class Limits:
    """EventBridge quotas and model limits that busbar enforces."""

    max_put_events_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    # PutEvents entries accepted per second; 0 means unlimited.  AWS's quota is
    # 10,000/s in us-east-1 and less elsewhere; beyond it entries fail with the
    # retryable ThrottlingException.
    put_events_per_second: int = 0
    max_detail_type_chars: int = 128
    max_detail_depth: int = 1000
    max_event_buses: int = 100
    max_pattern_chars: int = 2048
    max_rules_per_bus: int = 300
    max_targets_per_rule: int = 5
    max_connections: int = 3000
    max_api_destinations: int = 3000
    # Global endpoints per account and region (AWS's quota).
    max_endpoints: int = 100
    # Events that may descend from one event through bus-to-bus forwards (see busbar.router).
    max_event_descendants: int = 100
    # The largest request body read; a larger one is refused before it is parsed.
    # 0: four times max_put_events_request_bytes (JSON escaping makes a body larger
    # than the entry sizes it carries), at least 1 MiB.
    max_request_body_bytes: int = 0

    @property
    def request_body_bytes(self) -> int:
        """The body-size cap in force (see ``max_request_body_bytes``)."""
        return self.max_request_body_bytes or max(1 << 20, 4 * self.max_put_events_request_bytes)


@dataclass(frozen=True)
class Settings:
    """How one busbar server runs."""

    host: str = "127.0.0.1"
    port: int = 4010
    data_dir: Path = Path("./busbar-data")
    region: str = "us-east-1"
    account_id: str = "000000000000"
    log_level: str = "info"
    # "full" fsyncs every group commit (survives power loss); "normal" survives a
    # process crash (kill -9) but may lose the last commits on power loss.
    sync: str = "full"
    # Delivery: the first retry waits about retry_base_delay seconds, each next one
    # twice as long, never more than retry_max_delay (with jitter).
    retry_base_delay: float = 1.0
    retry_max_delay: float = 300.0
    delivery_concurrency: int = 256
    # Deliveries held in memory at most; the rest wait in the store (a target down for
    # hours must not turn its backlog into memory).
    delivery_window: int = 50_000
    # Routed events are kept this long (for `busbar events` and debugging), then deleted;
    # their deliveries are stored on their own.  0 keeps them forever.
    event_retention_seconds: int = 86400
    # A file of "ACCESS_KEY_ID SECRET_ACCESS_KEY [ACCOUNT_ID]" lines: when given, every API
    # call must be signed (SigV4) with one of these keys, and acts in the key's account
    # (default account_id).  None: any signature is accepted.
    auth_keys_file: Path | None = None
    # Deliver to AWS service targets (SQS, SNS, Lambda, Kinesis, Firehose, Step Functions,
    # CloudWatch Logs, buses of other accounts or regions) through their APIs, configured
    # as every AWS SDK is (credential chain, AWS_ENDPOINT_URL*, profiles).  Off: such
    # targets are refused and log groups stay local files.
    aws_targets: bool = False
    # Call AWS as a target's RoleArn (STS AssumeRole, cached until near expiry) instead
    # of as busbar's own credentials.
    assume_target_roles: bool = False
    # Replays put archived events back on their bus at most this fast (events per
    # second, per replay), and never while more live events wait to be routed, so that
    # live traffic keeps its latency during a large replay.
    replay_events_per_second: int = 1000
    # Global endpoints: seconds between two reads of their Route 53 health checks
    # (GetHealthCheckStatus, through the standard AWS SDK configuration).
    endpoint_health_interval: float = 10.0
    # The keys that seal connection secrets at rest (busbar.resources.secretbox); None: <data_dir>/secrets.key.
    secrets_key_file: Path | None = None
    # HTTP: the request line and headers of one request may take this many bytes
    # (more: 431); a request must arrive whole (headers and body) within
    # http_request_timeout seconds of its first byte (else 408 and the connection is
    # closed); a connection idle this long before or between requests is closed; at most
    # this many connections are open at once (fewer if the open-file limit is lower):
    # beyond it the longest-idle connection is closed, or the new one refused with 503
    # when every connection is busy.
    http_max_header_bytes: int = 65536
    http_request_timeout: int = 30
    http_keep_alive_timeout: int = 5
    http_max_connections: int = 10_000
    # -- observability (busbar.observe, busbar.console) --
    # Count EventBridge's CloudWatch metrics for GET /metrics ("off" saves the counting).
    metrics: bool = True
    # A second listener that serves only /metrics (0: none).  With --auth-keys-file, /metrics
    # is served there only, never on the API's listener.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0
    # Serve the web console at /console/ (with --auth-keys-file, behind a sign-in).
    console: bool = True
    # Level of other libraries' logs (aiohttp, botocore, ...); busbar's own follow log_level.
    log_libraries: str = "warning"
    # Failed delivery attempts and dead letters are logged at most this many at once per
    # target, then failure_log_per_minute a minute (the rest are counted, and said).
    failure_log_burst: int = 10
    failure_log_per_minute: float = 6.0
    # Where busbar keeps everything: "sqlite" (the embedded store in data_dir) or the URLs
    # of a NATS JetStream cluster, comma-separated (nats://host:port or tls://host:port,
    # user:password@ or token@ in the URL), shared by every busbar node of a deployment.
    store: str = "sqlite"
    # NATS JetStream: how many servers keep a copy of each stream and bucket (1 for a
    # single server); NATS credentials (.creds file); TLS (a CA to trust, a client
    # certificate and key); the prefix of busbar's streams, buckets and subjects (several
    # deployments may share a cluster under different prefixes); how long an event or a
    # delivery taken by a node stays leased to it without news (a node that died: its
    # work is taken up by another after this long).
    nats_replicas: int = 3
    nats_creds: Path | None = None
    nats_tls_ca: Path | None = None
    nats_tls_cert: Path | None = None
    nats_tls_key: Path | None = None
    nats_prefix: str = "busbar"
    nats_ack_wait: float = 30.0
    limits: Limits = field(default_factory=Limits)

    @property
    def clustered(self) -> bool:
        """Whether the store is a NATS JetStream cluster (else the embedded SQLite store)."""
        return self.store != "sqlite"

    @classmethod
    def from_env(
        cls, overrides: dict[str, Any] | None = None, environ: os._Environ[str] | dict[str, str] | None = None
    ) -> Settings:
        """Build settings from ``BUSBAR_*`` variables, then apply explicit overrides
        (the command-line flags that were given; ``None`` values are ignored)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name == "limits":
                continue
            raw = env.get(f"BUSBAR_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _coerce(f.name, raw, getattr(cls(), f.name))
        limit_values: dict[str, Any] = {}
        for f in dataclasses.fields(Limits):
            raw = env.get(f"BUSBAR_{f.name.upper()}")
            if raw is not None:
                limit_values[f.name] = _coerce(f.name, raw, getattr(Limits(), f.name))
        for name, value in (overrides or {}).items():
            if value is None:
                continue
            if name in Limits.__dataclass_fields__:
                limit_values[name] = value
            else:
                values[name] = value
        for name in (
            "data_dir",
            "auth_keys_file",
            "secrets_key_file",
            "nats_creds",
            "nats_tls_ca",
            "nats_tls_cert",
            "nats_tls_key",
        ):
            if values.get(name) is not None:
                values[name] = Path(values[name])
        settings = cls(limits=Limits(**limit_values), **values)
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse settings that cannot work, with a message saying what to change."""
        if not is_account(self.account_id):
            raise ValueError(f"account id must be 12 digits, got {self.account_id!r}")
        if not is_region(self.region):
            raise ValueError(
                f"region must be an AWS region name such as us-east-1 or eu-central-2, got {self.region!r} "
                "(AWS's API refuses ARNs with other regions, so busbar could not accept its own)"
            )
        if self.sync not in ("full", "normal"):
            raise ValueError(f"sync must be 'full' or 'normal', got {self.sync!r}")
        if self.retry_base_delay <= 0 or self.retry_max_delay < self.retry_base_delay:
            raise ValueError("retry delays must be positive, and the maximum at least the base")
        if self.auth_keys_file is not None and not self.auth_keys_file.is_file():
            raise ValueError(f"auth keys file {self.auth_keys_file} does not exist")
        if self.event_retention_seconds < 0:
            raise ValueError("event retention must be 0 (forever) or a number of seconds")
        if self.delivery_concurrency < 1:
            raise ValueError("delivery concurrency must be at least 1")
        if self.limits.max_event_descendants < 0:
            raise ValueError("max event descendants must be 0 (no bus-to-bus forwards) or more")
        if self.endpoint_health_interval <= 0:
            raise ValueError("endpoint health interval must be a positive number of seconds")
        if self.delivery_window < 1:
            raise ValueError("delivery window must be at least 1")
        if self.assume_target_roles and not self.aws_targets:
            raise ValueError("--assume-target-roles needs --aws-targets (roles are only used to call AWS services)")
        if self.replay_events_per_second < 1:
            raise ValueError("replay events per second must be at least 1")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {self.port}")
        if self.http_max_header_bytes < 1024:
            raise ValueError(f"http max header bytes must be at least 1024, got {self.http_max_header_bytes}")
        if self.http_request_timeout < 1 or self.http_keep_alive_timeout < 1:
            raise ValueError("http timeouts must be at least 1 second")
        if self.http_max_connections < 1:
            raise ValueError("http max connections must be at least 1")
        self._check_store()
        body = self.limits.max_request_body_bytes
        if body != 0 and body < self.limits.max_put_events_request_bytes:
            raise ValueError(
                f"max request body bytes ({body}) must be 0 (automatic) or at least the "
                f"PutEvents request size ({self.limits.max_put_events_request_bytes})"
            )
        if not 0 <= self.metrics_port <= 65535:
            raise ValueError(f"metrics port must be between 0 (none) and 65535, got {self.metrics_port}")
        if self.failure_log_burst < 1 or self.failure_log_per_minute <= 0:
            raise ValueError("the failure log needs a burst of at least 1 line and a positive rate per minute")
        if self.log_libraries not in ("debug", "info", "warning", "error"):
            raise ValueError(
                f"the libraries' log level must be debug, info, warning or error, got {self.log_libraries!r}"
            )

    def _check_store(self) -> None:
        if self.store == "sqlite":
            return
        for url in self.store.split(","):
            scheme = url.strip().partition("://")[0]
            if scheme not in ("nats", "tls"):
                raise ValueError(
                    "store must be 'sqlite' or NATS server URLs (nats://host:port or tls://host:port, "
                    f"comma-separated), got a {scheme or 'bare'} URL"  # never the URL: it may hold a password
                )
        if not 1 <= self.nats_replicas <= 5:
            raise ValueError(f"nats replicas must be between 1 and 5 (JetStream's limit), got {self.nats_replicas}")
        if not _PREFIX.fullmatch(self.nats_prefix):
            raise ValueError(
                "nats prefix must be letters, digits, '-' or '_' (it names streams and subjects), "
                f"got {self.nats_prefix!r}"
            )
        if self.nats_ack_wait < 1:
            raise ValueError(f"nats ack wait must be at least 1 second, got {self.nats_ack_wait}")
        if (self.nats_tls_cert is None) != (self.nats_tls_key is None):
            raise ValueError("--nats-tls-cert and --nats-tls-key go together (a client certificate and its key)")
        for name in ("nats_creds", "nats_tls_ca", "nats_tls_cert", "nats_tls_key"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name.replace('_', ' ')} file {path} does not exist")


_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,32}")


def _coerce(name: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"BUSBAR_{name.upper()} must be a number, got {raw!r}") from None
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"BUSBAR_{name.upper()} must be an integer, got {raw!r}") from None
    if isinstance(default, Path):
        return Path(raw)
    return raw
