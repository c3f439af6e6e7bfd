"""Property tests: any sequence of PutPermission / RemovePermission calls leaves the policy a plain
model predicts, and the policy grants exactly the accounts the model says."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from busbar.policies import (
    MAX_POLICY_CHARS,
    NOT_FOUND,
    PolicyError,
    allows_put_events,
    policy_text,
    put_permission,
    remove_permission,
)

OWNER = "123456789012"
BUS = f"arn:aws:events:us-east-1:{OWNER}:event-bus/b"
ACCOUNTS = ["111111111111", "222222222222", "333333333333"]
ORGS = ["o-aaaaaaaaaa", "o-bbbbbbbbbb"]
SIDS = ["s1", "s2", "s3", "s-4", "s_5"]

operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.sampled_from(SIDS), st.sampled_from([*ACCOUNTS, "*"]), st.none()),
        st.tuples(st.just("put"), st.sampled_from(SIDS), st.just("*"), st.sampled_from(ORGS)),
        st.tuples(st.just("remove"), st.sampled_from(SIDS), st.none(), st.none()),
        st.tuples(st.just("remove_all"), st.none(), st.none(), st.none()),
    ),
    max_size=25,
)


def expected_policy(model: dict[str, tuple[str, str | None]]) -> dict[str, Any] | None:
    """The document AWS shows for the statements in *model* (Sid -> principal, organization)."""
    if not model:
        return None
    statements = []
    for sid, (principal, org) in model.items():
        statement: dict[str, Any] = {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": "*" if principal == "*" else {"AWS": f"arn:aws:iam::{principal}:root"},
            "Action": "events:PutEvents",
            "Resource": BUS,
        }
        if org:
            statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": org}}
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def granted(model: dict[str, tuple[str, str | None]], account: str, org: str | None) -> bool:
    return account == OWNER or any(
        principal in ("*", account) and (wanted is None or wanted == org) for principal, wanted in model.values()
    )


@settings(max_examples=300, deadline=None)
@given(operations, st.sampled_from([*ACCOUNTS, OWNER, "999999999999"]), st.sampled_from([None, *ORGS]))
def test_sequences_of_calls(ops: list[tuple[Any, ...]], account: str, org: str | None) -> None:
    policy: dict[str, Any] | None = None
    model: dict[str, tuple[str, str | None]] = {}
    for op, sid, principal, organization in ops:
        try:
            if op == "put":
                condition = None
                if organization:
                    condition = {"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": organization}
                policy = put_permission(
                    policy, BUS, action="events:PutEvents", principal=principal, statement_id=sid, condition=condition
                )
                model[sid] = (principal, organization)  # a known Sid keeps its place
            elif op == "remove":
                policy = remove_permission(policy, statement_id=sid)
                del model[sid]
            else:
                policy = remove_permission(policy, remove_all=True)
                model.clear()
        except PolicyError as error:
            assert error.code == NOT_FOUND
            assert (op == "remove" and sid not in model) or (op == "remove_all" and not model)
        assert policy == expected_policy(model)
        text = policy_text(policy)
        assert (text is None) == (not model)
        assert text is None or (json.loads(text) == policy and len(text) <= MAX_POLICY_CHARS)
        assert allows_put_events(policy, BUS, account, org) == granted(model, account, org)
