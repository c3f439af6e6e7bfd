"""PutPermission and RemovePermission on a policy document: what they build and what they refuse."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from busbar.policies import (
    MAX_POLICY_CHARS,
    NOT_FOUND,
    TOO_LONG,
    VALIDATION,
    PolicyError,
    policy_text,
    put_permission,
    remove_permission,
)

BUS = "arn:aws:events:eu-west-1:123456789012:event-bus/orders"
ORG = {"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": "o-a1b2c3d4e5"}


def grant(policy: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    arguments = {"action": "events:PutEvents", "principal": "111122223333", "statement_id": "s1"} | kwargs
    return put_permission(policy, BUS, **arguments)


def refusal(code: str, message: str, call: Any) -> None:
    with pytest.raises(PolicyError) as caught:
        call()
    assert (caught.value.code, caught.value.message, str(caught.value)) == (code, message, message)


def test_a_statement_as_aws_builds_it() -> None:
    assert grant() == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "s1",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "events:PutEvents",
                "Resource": BUS,
            }
        ],
    }
    organization = grant(principal="*", statement_id="org", condition=ORG)["Statement"][0]
    assert organization["Principal"] == "*"
    assert organization["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
    assert list(organization) == ["Sid", "Effect", "Principal", "Action", "Resource", "Condition"]
    china = put_permission(
        None,
        "arn:aws-cn:events:cn-north-1:123456789012:event-bus/b",
        action="events:PutEvents",
        principal="111122223333",
        statement_id="s",
    )
    assert china["Statement"][0]["Principal"] == {"AWS": "arn:aws-cn:iam::111122223333:root"}


def test_policy_text_is_compact_json_or_nothing() -> None:
    assert policy_text(None) is None
    text = policy_text(grant())
    assert text is not None and json.loads(text) == grant() and ": " not in text and ", " not in text


def test_statements_keep_their_order_and_a_repeated_id_replaces_in_place() -> None:
    policy = grant(statement_id="a")
    policy = grant(policy, statement_id="b", principal="222233334444")
    policy = grant(policy, statement_id="c", principal="*")
    policy = grant(policy, statement_id="b", principal="555566667777")
    assert [(s["Sid"], s["Principal"]) for s in policy["Statement"]] == [
        ("a", {"AWS": "arn:aws:iam::111122223333:root"}),
        ("b", {"AWS": "arn:aws:iam::555566667777:root"}),
        ("c", "*"),
    ]
    # Two statements may name the same account (AWS kept both, recorded).
    assert len(grant(grant(statement_id="x"), statement_id="y")["Statement"]) == 2


def test_the_stored_document_is_never_changed() -> None:
    policy = grant(grant(statement_id="a"), statement_id="b")
    before = copy.deepcopy(policy)
    grant(policy, statement_id="c")
    grant(policy, statement_id="a", principal="*")
    remove_permission(policy, statement_id="a")
    put_permission(policy, BUS, policy_document=json.dumps({"Statement": [_statement()]}))
    assert policy == before


def test_a_statement_joins_a_whole_policy_that_has_one_statement_object() -> None:
    whole = put_permission(None, BUS, policy_document=json.dumps({"Version": "2012-10-17", "Statement": _statement()}))
    assert [s["Sid"] for s in grant(whole, statement_id="s2")["Statement"]] == ["whole", "s2"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "events:PutRule"}, "Provided value in parameter 'action' is not supported."),
        ({"action": "events:putevents"}, "Provided value in parameter 'action' is not supported."),
        ({"action": None}, "Parameter(s) Action, Principal and StatementId must be specified."),
        ({"principal": None}, "Parameter(s) Action, Principal and StatementId must be specified."),
        ({"statement_id": None}, "Parameter(s) Action, Principal and StatementId must be specified."),
        (
            {"principal": "12345678901"},
            "1 validation error detected: Value '12345678901' at 'principal' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: (\\d{12}|\\*)",
        ),
        (
            {"principal": "1234567890123"},
            "1 validation error detected: Value '1234567890123' at 'principal' failed to satisfy constraint: "
            "Member must have length less than or equal to 12",
        ),
        (
            {"statement_id": "has space"},
            "1 validation error detected: Value 'has space' at 'statementId' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+",
        ),
        (
            {"statement_id": "x" * 65},
            f"1 validation error detected: Value '{'x' * 65}' at 'statementId' failed to satisfy constraint: "
            "Member must have length less than or equal to 64",
        ),
        (
            {"condition": ORG},
            "Value of the parameter 'principal' must be '*' when the parameter 'condition' is set.",
        ),
        (
            {"principal": "*", "condition": ORG | {"Type": "StringLike"}},
            "Provided value in parameter 'condition.type' is not supported.",
        ),
        (
            {"principal": "*", "condition": ORG | {"Key": "aws:PrincipalAccount"}},
            "Provided value in parameter 'condition.key' is not supported.",
        ),
        (
            {"principal": "*", "condition": ORG | {"Value": "my-org"}},
            "Provided value in parameter 'condition.value' is invalid.",
        ),
        (
            {"principal": "*", "condition": {"Type": "StringEquals", "Key": "aws:PrincipalOrgID"}},
            "1 validation error detected: Value null at 'condition.value' failed to satisfy constraint: "
            "Member must not be null",
        ),
        (
            {"policy_document": "{}"},
            "Action, Principal, StatementId and Condition could not be combined with Policy parameter.",
        ),
    ],
)
def test_put_permission_refusals(kwargs: dict[str, Any], message: str) -> None:
    refusal(VALIDATION, message, lambda: grant(**kwargs))


def test_a_policy_over_10240_characters_is_refused() -> None:
    policy: dict[str, Any] | None = None
    count = 0
    with pytest.raises(PolicyError) as caught:
        while True:
            policy = grant(policy, statement_id=f"statement-{count}")
            count += 1
    assert caught.value.code == TOO_LONG
    assert caught.value.message == "Policy size would be larger than the maximum allowed."
    # The last statement that fitted left less room than one more statement takes.
    text = policy_text(policy) or ""
    assert count > 40 and len(text) <= MAX_POLICY_CHARS and MAX_POLICY_CHARS - len(text) < 250
    padded = json.dumps({"Statement": [_statement(Sid="x" * (MAX_POLICY_CHARS - 150))]})
    refusal(TOO_LONG, "Policy size would be larger than the maximum allowed.", lambda: _whole(padded))


def test_remove_permission() -> None:
    policy = grant(grant(statement_id="a"), statement_id="b")
    assert [s["Sid"] for s in remove_permission(policy, statement_id="a")["Statement"]] == ["b"]  # type: ignore[index]
    assert remove_permission(remove_permission(policy, statement_id="a"), statement_id="b") is None
    assert remove_permission(policy, remove_all=True) is None
    refusal(
        NOT_FOUND, "Statement with the provided id does not exist.", lambda: remove_permission(policy, statement_id="c")
    )
    refusal(
        NOT_FOUND, "Statement with the provided id does not exist.", lambda: remove_permission(None, statement_id="c")
    )
    refusal(NOT_FOUND, "EventBus does not have a policy.", lambda: remove_permission(None, remove_all=True))
    refusal(VALIDATION, "Parameter(s) StatementId must be specified.", lambda: remove_permission(policy))
    refusal(
        VALIDATION,
        "StatementId could not be combined with All parameter.",
        lambda: remove_permission(policy, statement_id="a", remove_all=True),
    )


def _statement(**changes: Any) -> dict[str, Any]:
    return {
        "Sid": "whole",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "events:PutEvents",
        "Resource": BUS,
    } | changes


def _without(key: str, **changes: Any) -> dict[str, Any]:
    return {k: v for k, v in _statement(**changes).items() if k != key}


def _whole(text: str) -> dict[str, Any]:
    return put_permission(None, BUS, policy_document=text)


@pytest.mark.parametrize(
    "statement",
    [
        _statement(),
        _statement(Principal="*", Resource="*", Action="events:*"),
        _statement(Principal={"AWS": ["111122223333", "*"]}, Action=["events:PutEvents", "events:Put*"]),
        _statement(Principal={"Service": "events.amazonaws.com"}, Action="events:ListRules", Resource="*"),
        _without("Principal", Effect="Deny", NotPrincipal={"AWS": "arn:aws:iam::111122223333:role/sender"}),
        _statement(Resource="arn:aws:events:eu-west-1:123456789012:event-bus/*"),
        _statement(Resource="arn:aws:events:*:*:event-bus/orders"),
        _statement(Resource="arn:aws:events:eu-west-1:123456789012:rule/orders/*", Action="events:PutRule"),
        _without("Resource", NotResource="arn:aws:events:eu-west-1:123456789012:rule/orders/private"),
        _statement(Condition={"StringEquals": {"events:source": "shop", "events:detail-type": ["a", "b"]}}),
        _statement(Condition={"ArnEquals": {"aws:SourceArn": ["arn:aws:events:us-west-2:*:*"]}}),
        _statement(Condition={"StringEqualsIfExists": {"events:creatorAccount": "${aws:PrincipalAccount}"}}),
        _statement(Condition={"NumericLessThan": {"aws:MultiFactorAuthAge": 3600}, "Bool": {"aws:x": True}}),
        _without("Sid"),
    ],
)
def test_whole_policies_that_are_accepted(statement: dict[str, Any]) -> None:
    document = {"Version": "2012-10-17", "Id": "policy", "Statement": [statement]}
    assert _whole(json.dumps(document)) == document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "This policy contains invalid Json"),
        ('["Statement"]', "This policy contains invalid Json"),
        ({"Version": "2012-10-17"}, "Missing required field Statement"),
        ({"Statement": []}, "Missing required field Statement"),
        ({"Version": "2020-01-01", "Statement": [_statement()]}, "The policy failed legacy parsing"),
        ({"Statement": [_statement()], "Extra": 1}, "Syntax errors in policy."),
        ({"Statement": [_statement(Extra=1)]}, "Syntax errors in policy."),
        ({"Statement": ["text"]}, "Syntax errors in policy."),
        ({"Statement": [_statement(Sid=5)]}, "Syntax errors in policy."),
        ({"Statement": [_statement(), _statement()]}, "Statement IDs (SID) in a single policy must be unique."),
        ({"Statement": [_statement(Effect="allow")]}, "Invalid effect: allow"),
        (
            {"Statement": [_without("Principal")]},
            "Missing required field Principal",
        ),
        ({"Statement": [_statement(NotPrincipal="*")]}, "Syntax errors in policy."),  # both
        ({"Statement": [_statement(Principal={"AWS": "alice"})]}, 'Invalid principal in policy: "AWS":"alice"'),
        ({"Statement": [_statement(Principal={"Robot": "r2"})]}, "Syntax errors in policy."),
        ({"Statement": [_statement(Principal={"AWS": []})]}, "Syntax errors in policy."),
        (
            {"Statement": [_without("Action")]},
            "Policy statement must contain actions.",
        ),
        (
            {"Statement": [_statement(Action="PutEvents")]},
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        ({"Statement": [_statement(Action=[1])]}, "Syntax errors in policy."),
        (
            {"Statement": [_without("Resource")]},
            "Policy statement must contain resources.",
        ),
        ({"Statement": [_statement(Resource="orders")]}, 'Resource orders must be in ARN format or "*".'),
        (
            # AWS's answer when a policy names another bus (recorded in a Terraform issue, see notes).
            {"Statement": [_statement(Resource="arn:aws:events:eu-west-1:123456789012:event-bus/other")]},
            'The relative-id "event-bus/other" is invalid for ARN '
            '"arn:aws:events:eu-west-1:123456789012:event-bus/other"',
        ),
        ({"Statement": [_statement(Condition="x")]}, "Syntax errors in policy."),
        ({"Statement": [_statement(Condition={"StringEquals": "x"})]}, "Syntax errors in policy."),
        ({"Statement": [_statement(Condition={"StringEquals": {"k": {"nested": 1}}})]}, "Syntax errors in policy."),
        ({"Statement": [_statement(Condition={"String Equals": {"k": "v"}})]}, "Syntax errors in policy."),
    ],
)
def test_whole_policies_that_are_refused(document: Any, message: str) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    refusal(VALIDATION, message, lambda: _whole(text))
