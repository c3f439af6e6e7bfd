"""Who may put events on a bus: the bus policy evaluated as IAM evaluates it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from busbar.policies import (
    BusPolicy,
    Caller,
    Decision,
    EntryError,
    Request,
    allows_put_events,
    put_events_denial,
    put_permission,
)

OWNER, PARTNER, STRANGER = "123456789012", "111122223333", "444455556666"
BUS = f"arn:aws:events:us-east-1:{OWNER}:event-bus/central"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(**fields: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": "*", "Action": "events:PutEvents", "Resource": BUS} | fields


def deny(**fields: Any) -> dict[str, Any]:
    return allow(Effect="Deny") | fields


def decide(document: dict[str, Any] | None, account: str = PARTNER, **context: str) -> Decision:
    return BusPolicy(document).decide(Request(Caller(account), "events:PutEvents", BUS, context))


def test_without_a_policy_only_the_owner_may_put_events() -> None:
    assert allows_put_events(None, BUS, OWNER)
    assert not allows_put_events(None, BUS, PARTNER)
    assert not allows_put_events(policy(), BUS, PARTNER)


def test_put_permission_grants_exactly_what_it_says() -> None:
    granted = put_permission(None, BUS, action="events:PutEvents", principal=PARTNER, statement_id="partner")
    assert allows_put_events(granted, BUS, PARTNER)
    assert not allows_put_events(granted, BUS, STRANGER)
    assert not allows_put_events(granted, BUS.replace("central", "other"), PARTNER)
    everyone = put_permission(granted, BUS, action="events:PutEvents", principal="*", statement_id="all")
    assert allows_put_events(everyone, BUS, STRANGER)
    org = put_permission(
        None,
        BUS,
        action="events:PutEvents",
        principal="*",
        statement_id="org",
        condition={"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": "o-a1b2c3d4e5"},
    )
    assert allows_put_events(org, BUS, STRANGER, "o-a1b2c3d4e5")
    assert not allows_put_events(org, BUS, STRANGER, "o-zzzzzzzzzz")
    assert not allows_put_events(org, BUS, STRANGER)  # the organization is not known


@pytest.mark.parametrize(
    "principal",
    [
        "*",
        {"AWS": "*"},
        {"AWS": PARTNER},
        {"AWS": f"arn:aws:iam::{PARTNER}:root"},
        {"AWS": ["999999999999", f"arn:aws:iam::{PARTNER}:root"]},
    ],
)
def test_principals_that_name_the_caller(principal: Any) -> None:
    assert decide(policy(allow(Principal=principal))) is Decision.ALLOW


@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": STRANGER},
        {"AWS": f"arn:aws:iam::{PARTNER}:role/sender"},  # busbar's callers are accounts, not roles
        {"Service": "events.amazonaws.com"},
        {"AWS": f"arn:aws:iam::{PARTNER}0:root"},
    ],
)
def test_principals_that_do_not(principal: Any) -> None:
    assert decide(policy(allow(Principal=principal))) is Decision.IMPLICIT_DENY


def test_not_principal() -> None:
    everyone_but_the_stranger = allow(NotPrincipal={"AWS": STRANGER})
    del everyone_but_the_stranger["Principal"]
    assert decide(policy(everyone_but_the_stranger)) is Decision.ALLOW
    assert decide(policy(everyone_but_the_stranger), STRANGER) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("Action", "events:*", Decision.ALLOW),
        ("Action", "events:put*", Decision.ALLOW),  # actions ignore case
        ("Action", ["events:PutRule", "events:PutEvents"], Decision.ALLOW),
        ("Action", "*", Decision.ALLOW),
        ("Action", "events:PutRule", Decision.IMPLICIT_DENY),
        ("Action", "sqs:*", Decision.IMPLICIT_DENY),
        ("Resource", "*", Decision.ALLOW),
        ("Resource", f"arn:aws:events:us-east-1:{OWNER}:event-bus/*", Decision.ALLOW),
        ("Resource", "arn:aws:events:*:*:event-bus/cent?al", Decision.ALLOW),
        ("Resource", f"arn:aws:events:us-east-1:{OWNER}:event-bus/Central", Decision.IMPLICIT_DENY),  # ARNs keep case
        ("Resource", f"arn:aws:events:us-east-1:{OWNER}:rule/central/*", Decision.IMPLICIT_DENY),
        ("Resource", "arn:aws:events:*", Decision.IMPLICIT_DENY),  # six parts, each matched on its own
    ],
)
def test_actions_and_resources(field: str, value: Any, expected: Decision) -> None:
    assert decide(policy(allow(**{field: value}))) is expected


def test_not_action_and_not_resource() -> None:
    statement = allow(NotAction="events:PutRule")
    del statement["Action"]
    assert decide(policy(statement)) is Decision.ALLOW
    statement = allow(NotResource=BUS)
    del statement["Resource"]
    assert decide(policy(statement)) is Decision.IMPLICIT_DENY


def test_a_deny_wins() -> None:
    document = policy(allow(), deny(Principal={"AWS": STRANGER}))
    assert decide(document) is Decision.ALLOW
    assert decide(document, STRANGER) is Decision.EXPLICIT_DENY
    # An explicit deny holds for the bus's own account too; an implicit one does not.
    assert not allows_put_events(policy(deny()), BUS, OWNER)
    assert allows_put_events(policy(allow(Principal={"AWS": PARTNER})), BUS, OWNER)


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        ({"StringEquals": {"events:source": "shop"}}, {"events:source": "shop"}, True),
        ({"StringEquals": {"events:source": "shop"}}, {"events:source": "Shop"}, False),
        ({"StringEquals": {"EVENTS:Source": "shop"}}, {"events:source": "shop"}, True),  # keys ignore case
        ({"StringEquals": {"events:source": ["a", "shop"]}}, {"events:source": "shop"}, True),  # values OR
        ({"StringEquals": {"events:source": "shop"}}, {}, False),  # a missing key
        ({"StringEqualsIgnoreCase": {"events:source": "SHOP"}}, {"events:source": "shop"}, True),
        ({"StringNotEquals": {"events:source": "shop"}}, {"events:source": "bank"}, True),
        ({"StringNotEquals": {"events:source": ["shop", "bank"]}}, {"events:source": "bank"}, False),
        ({"StringNotEquals": {"events:source": "shop"}}, {}, True),  # negated and missing: true
        ({"StringLike": {"events:source": "com.example.*"}}, {"events:source": "com.example.shop"}, True),
        ({"StringLike": {"events:source": "com.example.?"}}, {"events:source": "com.example.ab"}, False),
        ({"StringNotLike": {"events:source": "com.*"}}, {"events:source": "org.x"}, True),
        ({"StringEqualsIfExists": {"events:source": "shop"}}, {}, True),
        ({"StringEqualsIfExists": {"events:source": "shop"}}, {"events:source": "bank"}, False),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:events:us-west-2:*:*"}},
            {"aws:SourceArn": "arn:aws:events:us-west-2:1:rule/r"},
            True,
        ),
        (
            {"ArnEquals": {"aws:SourceArn": "arn:aws:events:us-west-2:*:*"}},
            {"aws:SourceArn": "arn:aws:events:eu-west-1:1:rule/r"},
            False,
        ),
        ({"ArnNotLike": {"aws:SourceArn": "arn:aws:events:us-west-2:*:*"}}, {}, True),
        ({"Null": {"aws:SourceArn": "true"}}, {}, True),
        ({"Null": {"aws:SourceArn": "false"}}, {}, False),
        ({"Null": {"aws:SourceArn": True}}, {"aws:SourceArn": "arn:x"}, False),
        ({"ForAnyValue:StringEquals": {"events:source": "shop"}}, {}, False),
        ({"ForAllValues:StringEquals": {"events:source": "shop"}}, {}, True),
        ({"ForAnyValue:StringEquals": {"events:source": "shop"}}, {"events:source": "shop"}, True),
        ({"StringEquals": {"aws:PrincipalAccount": "${aws:PrincipalAccount}"}}, {}, True),  # a policy variable
        ({"StringEquals": {"events:source": "${aws:SourceArn}"}}, {"events:source": "x"}, False),  # unknown variable
        ({"StringEquals": {"aws:PrincipalAccount": PARTNER, "events:source": "shop"}}, {"events:source": "shop"}, True),
        (
            {"StringEquals": {"aws:PrincipalAccount": PARTNER}, "StringLike": {"events:source": "b*"}},
            {"events:source": "shop"},
            False,
        ),
        ({"StringEquals": {"aws:PrincipalAccount": 111122223333}}, {}, True),  # numbers read as text
    ],
)
def test_conditions(condition: dict[str, Any], context: dict[str, str], expected: bool) -> None:
    assert (decide(policy(allow(Condition=condition)), **context) is Decision.ALLOW) is expected


def test_a_condition_busbar_cannot_evaluate_fails_closed() -> None:
    unknown = {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}
    assert decide(policy(allow(Condition=unknown))) is Decision.IMPLICIT_DENY
    assert decide(policy(allow(), deny(Condition=unknown))) is Decision.EXPLICIT_DENY
    # ...unless a condition beside it is plainly false.
    false_beside = unknown | {"StringEquals": {"aws:PrincipalAccount": STRANGER}}
    assert decide(policy(allow(), deny(Condition=false_beside))) is Decision.ALLOW


def test_the_documentations_example_policies() -> None:
    # "Send events to a custom bus in a different account", only for one source and detail type.
    example = policy(
        {
            "Sid": "WebStoreCrossAccountPublish",
            "Effect": "Allow",
            "Action": ["events:PutEvents"],
            "Principal": {"AWS": f"arn:aws:iam::{PARTNER}:root"},
            "Resource": BUS,
            "Condition": {
                "StringEquals": {"events:detail-type": "newOrderCreated", "events:source": "com.exampleCorp.webStore"}
            },
        }
    )
    assert allows_put_events(example, BUS, PARTNER, source="com.exampleCorp.webStore", detail_type="newOrderCreated")
    assert not allows_put_events(example, BUS, PARTNER, source="com.exampleCorp.webStore", detail_type="other")
    assert not allows_put_events(example, BUS, PARTNER)
    # "Deny sending events from specific Regions": a direct PutEvents has no aws:SourceArn.
    regions = policy(
        allow(Principal={"AWS": f"arn:aws:iam::{PARTNER}:root"}),
        deny(Principal={"AWS": "*"}, Condition={"ArnEquals": {"aws:SourceArn": ["arn:aws:events:us-west-2:*:*"]}}),
    )
    assert allows_put_events(regions, BUS, PARTNER)
    caller = Caller(PARTNER)
    forwarded = {"aws:SourceArn": f"arn:aws:events:us-west-2:{PARTNER}:rule/r"}
    assert put_events_denial(regions, BUS, caller, extra_context=forwarded) is not None


def test_the_error_of_a_refused_entry() -> None:
    assert put_events_denial(None, BUS, Caller(STRANGER)) == EntryError(
        "AccessDeniedException",
        f"User: arn:aws:iam::{STRANGER}:root is not authorized to perform: events:PutEvents on resource: {BUS} "
        "because no resource-based policy allows the events:PutEvents action",
    )
    denial = put_events_denial(policy(deny()), BUS, Caller(OWNER, principal_arn=f"arn:aws:iam::{OWNER}:user/ann"))
    assert denial == EntryError(
        "AccessDeniedException",
        f"User: arn:aws:iam::{OWNER}:user/ann is not authorized to perform: events:PutEvents on resource: {BUS} "
        "with an explicit deny in a resource-based policy",
    )
    assert put_events_denial(policy(allow()), BUS, Caller(STRANGER)) is None


def test_a_policy_reads_from_its_text_or_its_document() -> None:
    document = policy(allow(Principal={"AWS": PARTNER}))
    for form in (document, json.dumps(document), BusPolicy(document)):
        assert allows_put_events(form, BUS, PARTNER)
        assert not allows_put_events(form, BUS, STRANGER)
