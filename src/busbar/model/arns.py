"""Amazon Resource Names: every ARN busbar builds or reads, in one place.

An ARN is ``arn:<partition>:<service>:<region>:<account>:<resource>``.  busbar builds
the ARNs of its own resources (event buses, rules, connections, API destinations,
archives, replays, endpoints) and reads those and the ARNs of rule targets (log
groups, SQS queues, Lambda functions, ...).  Every format lives here, so that what
busbar hands out is exactly what it accepts back.

Regions
    A region is AWS's form: two letters, one or more words, a number
    (``us-east-1``, ``us-gov-west-1``, ``eu-central-2``).  busbar's ``--region``
    must have this form too (:func:`is_region`): AWS's own model refuses a bus ARN
    whose region does not look like one, so a region such as ``local`` would make
    busbar hand out ARNs its API could not take back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

PARTITION = r"aws(?:-[a-z]+)*"
REGION = r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}"
ACCOUNT = r"[0-9]{12}"
# Names of event buses, rules, connections, ...: what the service model allows (the
# bus name of a rule ARN may also hold '/', as partner event buses do).
_NAME = r"[\.\-_A-Za-z0-9]+"

_REGION = re.compile(REGION, re.ASCII)
_ACCOUNT = re.compile(ACCOUNT, re.ASCII)
_ANY_ARN = re.compile(r"arn:([a-z0-9-]+):([a-z0-9-]+):([a-z0-9-]*):([0-9]{12})?:(.+)", re.ASCII | re.DOTALL)


def is_region(text: str) -> bool:
    """Whether *text* is a region name of AWS's form (see the module docstring)."""
    return _REGION.fullmatch(text) is not None


def is_account(text: str) -> bool:
    """Whether *text* is a 12-digit account id."""
    return _ACCOUNT.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class Arn:
    """The parts of any ARN (region and account may be empty, as in IAM's or S3's)."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def parse(text: str) -> Arn | None:
    """The parts of *text* when it has the general form of an ARN, else None."""
    match = _ANY_ARN.fullmatch(text)
    if match is None:
        return None
    partition, service, region, account, resource = match.groups()
    return Arn(partition, service, region, account or "", resource)


# -- busbar's own resources (service "events") ------------------------------------------


def bus_arn(region: str, account: str, name: str) -> str:
    """``arn:aws:events:{region}:{account}:event-bus/{name}``."""
    return f"arn:aws:events:{region}:{account}:event-bus/{name}"


def rule_arn(region: str, account: str, bus: str, rule: str) -> str:
    """Rule ARNs name the bus only when it is not ``default``."""
    path = rule if bus == "default" else f"{bus}/{rule}"
    return f"arn:aws:events:{region}:{account}:rule/{path}"


def connection_arn(region: str, account: str, name: str, unique: str) -> str:
    """``arn:aws:events:{region}:{account}:connection/{name}/{uuid}`` (the uuid tells a
    connection created again under the same name from the old one)."""
    return f"arn:aws:events:{region}:{account}:connection/{name}/{unique}"


def api_destination_arn(region: str, account: str, name: str, unique: str) -> str:
    """``arn:aws:events:{region}:{account}:api-destination/{name}/{uuid}``."""
    return f"arn:aws:events:{region}:{account}:api-destination/{name}/{unique}"


def archive_arn(region: str, account: str, name: str) -> str:
    """``arn:aws:events:{region}:{account}:archive/{name}``."""
    return f"arn:aws:events:{region}:{account}:archive/{name}"


def replay_arn(region: str, account: str, name: str) -> str:
    """``arn:aws:events:{region}:{account}:replay/{name}``."""
    return f"arn:aws:events:{region}:{account}:replay/{name}"


def endpoint_arn(region: str, account: str, name: str) -> str:
    """``arn:aws:events:{region}:{account}:endpoint/{name}``."""
    return f"arn:aws:events:{region}:{account}:endpoint/{name}"


def endpoint_url(endpoint_id: str) -> str:
    """The ``EndpointUrl`` of a global endpoint: the host AWS's SDKs send its PutEvents to."""
    return f"https://{endpoint_id}.endpoint.events.amazonaws.com"


_HEALTH_CHECK = re.compile(r"arn:aws(?:[a-z]|-)*:route53:::healthcheck/([-a-z0-9]+)", re.ASCII)


def health_check_id(text: str) -> str | None:
    """The id of the Route 53 health check ``arn:aws:route53:::healthcheck/{id}`` names, or None."""
    match = _HEALTH_CHECK.fullmatch(text)
    return match.group(1) if match is not None else None


def connection_secret_arn(region: str, account: str, name: str, unique: str) -> str:
    """The ``SecretArn`` AWS answers for a connection (a Secrets Manager secret; busbar has
    none, the ARN only keeps AWS's shape)."""
    return f"arn:aws:secretsmanager:{region}:{account}:secret:events!connection/{name}/{unique}"


@dataclass(frozen=True, slots=True)
class EventsArn:
    """An ARN of one of busbar's own resources: its kind (``event-bus``, ``rule``, ...),
    where it lives, and its name (for a rule, ``bus`` names its bus)."""

    kind: str
    region: str
    account: str
    name: str
    bus: str = ""
    unique: str = ""


_EVENTS = re.compile(rf"arn:{PARTITION}:events:({REGION}):({ACCOUNT}):([a-z-]+)/(.+)", re.ASCII | re.DOTALL)
_RULE_PATH = re.compile(rf"(?:(.+)/)?({_NAME})", re.ASCII | re.DOTALL)
_NAMED_PATH = re.compile(rf"({_NAME})/([-A-Za-z0-9]+)", re.ASCII)
_SIMPLE_PATH = re.compile(_NAME, re.ASCII)
# Bus names may hold '/' only for partner event buses (aws.partner/...); the model's pattern.
_BUS_PATH = re.compile(r"[/\.\-_A-Za-z0-9]+", re.ASCII)


@lru_cache(maxsize=4096)
def parse_events(text: str, kind: str | None = None) -> EventsArn | None:
    """The parts of an ARN of busbar's own resources (of *kind* when given), or None.
    Deliveries name the same few ARNs again and again, so answers are remembered."""
    match = _EVENTS.fullmatch(text)
    if match is None:
        return None
    region, account, found, path = match.groups()
    if kind is not None and found != kind:
        return None
    if found == "event-bus":
        return EventsArn(found, region, account, path) if _BUS_PATH.fullmatch(path) else None
    if found == "rule":
        rule = _RULE_PATH.fullmatch(path)
        if rule is None:
            return None
        return EventsArn(found, region, account, rule.group(2), bus=rule.group(1) or "default")
    if found in ("connection", "api-destination"):
        named = _NAMED_PATH.fullmatch(path)
        return EventsArn(found, region, account, named.group(1), unique=named.group(2)) if named else None
    if found in ("archive", "replay", "endpoint"):
        return EventsArn(found, region, account, path) if _SIMPLE_PATH.fullmatch(path) else None
    return None


# -- rule targets ------------------------------------------------------------------------


class TargetKind(StrEnum):
    """The kinds of rule target busbar knows by their ARN."""

    API_DESTINATION = "api-destination"
    EVENT_BUS = "event-bus"
    ARCHIVE = "archive"  # only as the target of an archive's managed rule
    LOG_GROUP = "log-group"
    SQS = "sqs"
    SNS = "sns"
    LAMBDA = "lambda"
    KINESIS = "kinesis"
    FIREHOSE = "firehose"
    STEP_FUNCTIONS = "states"
    # Known to AWS, not delivered by busbar (refused at PutTargets).
    ECS = "ecs"
    BATCH = "batch"
    REDSHIFT = "redshift"
    SAGEMAKER = "sagemaker"
    APPSYNC = "appsync"
    SSM = "ssm"


# Kinds that exist only as AWS services (log groups and event buses are busbar's own, or
# CloudWatch Logs' and another account's or region's EventBridge with --aws-targets).
AWS_SERVICE_KINDS = frozenset(
    {
        TargetKind.SQS,
        TargetKind.SNS,
        TargetKind.LAMBDA,
        TargetKind.KINESIS,
        TargetKind.FIREHOSE,
        TargetKind.STEP_FUNCTIONS,
    }
)


@dataclass(frozen=True, slots=True)
class TargetArn:
    """A target's ARN, parsed once: its kind, where it lives and what it names.

    ``name`` is the resource's name (bus, log group, queue, function, stream, state
    machine); ``qualifier`` a Lambda alias or version; ``unique`` the uuid part of an
    API destination's ARN.
    """

    kind: TargetKind
    arn: str
    partition: str
    region: str
    account: str
    name: str
    qualifier: str = ""
    unique: str = ""


# resource part -> (kind, pattern with the name as group 1 [, qualifier as group 2])
_TARGETS: dict[str, tuple[TargetKind, re.Pattern[str]]] = {
    "logs": (TargetKind.LOG_GROUP, re.compile(r"log-group:([\.\-_/#A-Za-z0-9]{1,512}?)(?::\*)?", re.ASCII)),
    "sqs": (TargetKind.SQS, re.compile(r"([\w-]{1,80}(?:\.fifo)?)", re.ASCII)),
    "sns": (TargetKind.SNS, re.compile(r"([\w-]{1,256}(?:\.fifo)?)", re.ASCII)),
    "lambda": (TargetKind.LAMBDA, re.compile(r"function:([\w-]{1,64})(?::([\w$-]{1,128}))?", re.ASCII)),
    "kinesis": (TargetKind.KINESIS, re.compile(r"stream/([\w.-]{1,128})", re.ASCII)),
    "firehose": (TargetKind.FIREHOSE, re.compile(r"deliverystream/([\w.-]{1,64})", re.ASCII)),
    "states": (TargetKind.STEP_FUNCTIONS, re.compile(r"stateMachine:([\w.-]{1,80})", re.ASCII)),
    "ecs": (TargetKind.ECS, re.compile(r"cluster/(.+)", re.ASCII)),
    "batch": (TargetKind.BATCH, re.compile(r"job-queue/(.+)", re.ASCII)),
    "redshift": (TargetKind.REDSHIFT, re.compile(r"cluster:(.+)", re.ASCII)),
    "sagemaker": (TargetKind.SAGEMAKER, re.compile(r"pipeline/(.+)", re.ASCII)),
    "appsync": (TargetKind.APPSYNC, re.compile(r"apis/(.+)", re.ASCII)),
    "ssm": (TargetKind.SSM, re.compile(r"document/(.+)", re.ASCII)),
}


@lru_cache(maxsize=4096)
def parse_target(text: str) -> TargetArn | None:
    """The target *text* names, or None when busbar does not know that kind of ARN
    (its region must have AWS's form and its account 12 digits).  Targets repeat in
    every delivery, so answers are remembered: each ARN is parsed once."""
    arn = parse(text)
    if arn is None or not is_region(arn.region) or not arn.account:
        return None
    if arn.service == "events":
        own = parse_events(text)
        if own is None or own.kind not in ("event-bus", "api-destination", "archive"):
            return None
        kind = TargetKind(own.kind)
        return TargetArn(kind, text, arn.partition, own.region, own.account, own.name, unique=own.unique)
    known = _TARGETS.get(arn.service)
    if known is None:
        return None
    kind, pattern = known
    match = pattern.fullmatch(arn.resource)
    if match is None:
        return None
    qualifier = match.group(2) or "" if pattern.groups > 1 else ""
    return TargetArn(kind, text, arn.partition, arn.region, arn.account, match.group(1), qualifier=qualifier)
