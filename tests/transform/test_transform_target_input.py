"""Input, InputPath and InputTransformer, checked against AWS's documentation and against
deliveries recorded from AWS (LocalStack's validated snapshots, tests/aws/services/events/
test_events_inputs.snapshot.json)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from busbar.transform import InputRenderError, InvalidTargetInput, TargetInput, compile_target_input

from conftest import INGESTION_TIME, RULE_ARN, RULE_NAME, loads, render, transform

EC2_PATHS = {"timestamp": "$.time", "instance": "$.detail.instance-id", "state": "$.detail.state"}
ACCOUNT_PATHS = {
    "userId": "$.detail.payload.acc_id",
    "payload": "$.detail.payload",
    "systemstring": "$.detail.awsAccountId",  # not in the event
    "listsingle": "$.detail.listsingle",
    "listmulti": "$.detail.listmulti",
    "valid": "$.detail.valid",
    "count": "$.detail.count",
    "ratio": "$.detail.ratio",
    "nothing": "$.detail.nothing",
}


def refused(target: dict[str, Any]) -> str:
    """The message compile_target_input refuses ``target`` with."""
    with pytest.raises(InvalidTargetInput) as info:
        compile_target_input({"Id": "t1", "Arn": "arn:aws:events:::x", **target})
    assert info.value.message == str(info.value)
    return info.value.message


# --- no input shaping ---------------------------------------------------------------------


def test_whole_event_by_default(ec2_event: dict[str, Any]) -> None:
    compiled = compile_target_input({"Id": "t1", "Arn": "arn"})
    assert type(compiled) is TargetInput and compiled.mode == "event"
    assert loads(render({}, ec2_event)) == ec2_event


def test_whole_event_uses_given_json_unchanged(ec2_event: dict[str, Any]) -> None:
    raw = b'{"id": "as received",  "spacing": "kept"}'
    assert render({}, ec2_event, event_json=raw) is raw


def test_none_values_count_as_absent(ec2_event: dict[str, Any]) -> None:
    assert loads(render({"Input": None, "InputPath": None}, ec2_event)) == ec2_event


# --- Input --------------------------------------------------------------------------------


def test_input_is_sent_as_is(ec2_event: dict[str, Any]) -> None:
    text = '{"env": "dev",  "n": [1, 2]}'
    assert render({"Input": text}, ec2_event) == text.encode()


def test_input_non_ascii(ec2_event: dict[str, Any]) -> None:
    assert render({"Input": '"café ✓"'}, ec2_event) == '"café ✓"'.encode()


@pytest.mark.parametrize("text", ["{", "not json", "{'a': 1}", ""])
def test_input_must_be_json(text: str) -> None:
    # AWS's words, as reported in awsdocs/aws-cloudformation-user-guide#1010.
    assert refused({"Input": text}) == "Input for target t1 is not a valid JSON text."


# --- only one of --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "keys",
    [
        ("Input", "InputPath"),
        ("Input", "InputTransformer"),
        ("InputPath", "InputTransformer"),
        ("Input", "InputPath", "InputTransformer"),
    ],
)
def test_only_one_shape(keys: tuple[str, ...]) -> None:
    values = {"Input": "{}", "InputPath": "$.detail", "InputTransformer": {"InputTemplate": '"x"'}}
    assert refused({key: values[key] for key in keys}) == (
        "Only one of Input, InputPath, or InputTransformer must be provided for target t1."
    )


# --- InputPath ----------------------------------------------------------------------------


def test_input_path_detail(account_event: dict[str, Any]) -> None:
    assert loads(render({"InputPath": "$.detail"}, account_event)) == account_event["detail"]


def test_input_path_nested_object(account_event: dict[str, Any]) -> None:
    assert loads(render({"InputPath": "$.detail.payload"}, account_event)) == {
        "acc_id": "0a787ecb-4015",
        "sf_id": "baz",
    }


def test_input_path_string_is_json_quoted(account_event: dict[str, Any]) -> None:
    # Recorded from AWS: the SQS body was "\"baz\"".
    assert render({"InputPath": "$.detail.payload.sf_id"}, account_event) == b'"baz"'


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("$.detail.count", b"3"),
        ("$.detail.ratio", b"0.5"),
        ("$.detail.valid", b"true"),
        ("$.detail.nothing", b"null"),
        ("$.detail.listmulti[1]", b'"INACTIVE"'),
        ("$.detail.listmulti", b'["ACTIVE","INACTIVE"]'),
    ],
)
def test_input_path_scalars_and_lists(account_event: dict[str, Any], path: str, body: bytes) -> None:
    assert render({"InputPath": path}, account_event) == body


def test_input_path_dollar_is_whole_event(ec2_event: dict[str, Any]) -> None:
    raw = orjson.dumps(ec2_event)
    assert render({"InputPath": "$"}, ec2_event, event_json=raw) is raw
    assert loads(render({"InputPath": "$"}, ec2_event)) == ec2_event


def test_input_path_selecting_nothing_fails_the_delivery(ec2_event: dict[str, Any]) -> None:
    with pytest.raises(InputRenderError, match=r"InputPath \$\.detail\.nope of target t1 selects nothing"):
        render({"InputPath": "$.detail.nope"}, ec2_event)


@pytest.mark.parametrize("path", ["detail", "$..detail", "$.detail[?(@.x)]", "$."])
def test_input_path_must_be_a_supported_path(path: str) -> None:
    assert refused({"InputPath": path}).startswith("InputPath for target t1 is not a valid JSON path: ")


# --- InputTransformer: AWS's documented examples ------------------------------------------


@pytest.mark.parametrize(
    ("template", "body"),
    [
        # "Input transform examples" table of eb-transform-target-input.
        ('"instance <instance> is in <state>"', b'"instance i-0123456789 is in RUNNING"'),
        ('"instance \\"<instance>\\" is in <state>"', b'"instance \\"i-0123456789\\" is in RUNNING"'),
        ('"<aws.events.rule-name> triggered"', b'"example triggered"'),
        # The tutorial's SNS message, and the API reference's plain-text template.
        (
            "The EC2 instance <instance> has changed state to <state>.",
            b"The EC2 instance i-0123456789 has changed state to RUNNING.",
        ),
        ("<instance> is in state <state>", b"i-0123456789 is in state RUNNING"),
    ],
)
def test_documented_text_templates(ec2_event: dict[str, Any], template: str, body: bytes) -> None:
    assert transform(EC2_PATHS, template, ec2_event) == body


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{"instance" : <instance>, "state": <state>}', {"instance": "i-0123456789", "state": "RUNNING"}),
        (
            '{"instance" : <instance>, "state": "<state>", '
            '"instanceStatus": "instance \\"<instance>\\" is in <state>"}',
            {"instance": "i-0123456789", "state": "RUNNING", "instanceStatus": 'instance "i-0123456789" is in RUNNING'},
        ),
        (
            '{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes"}',
            {"instance": "i-0123456789", "state": [9, "RUNNING", True], "Transformed": "Yes"},
        ),
        (
            '{"instance" : <instance>, "state": <state>, "ruleArn" : <aws.events.rule-arn>, '
            '"ruleName" : <aws.events.rule-name>}',
            {"instance": "i-0123456789", "state": "RUNNING", "ruleArn": RULE_ARN, "ruleName": RULE_NAME},
        ),
        (
            '{"timestamp": <timestamp>, "at": "<aws.events.event.ingestion-time>"}',
            {"timestamp": "2015-11-11T21:29:54Z", "at": INGESTION_TIME},
        ),
    ],
)
def test_documented_json_templates(ec2_event: dict[str, Any], template: str, expected: Any) -> None:
    assert loads(transform(EC2_PATHS, template, ec2_event)) == expected


def test_json_output_is_minified(ec2_event: dict[str, Any]) -> None:
    template = '{\n  "instance" : <instance>,\n  "state": [ 9, <state>, true ],\n  "note": "a  b"\n}'
    assert transform(EC2_PATHS, template, ec2_event) == (
        b'{"instance":"i-0123456789","state":[9,"RUNNING",true],"note":"a  b"}'
    )


def test_template_without_paths_map(ec2_event: dict[str, Any]) -> None:
    body = render({"InputTransformer": {"InputTemplate": '"<aws.events.rule-arn> <aws.events.rule-name>"'}}, ec2_event)
    assert body == f'"{RULE_ARN} {RULE_NAME}"'.encode()


def test_constant_template(ec2_event: dict[str, Any]) -> None:
    assert transform({}, '{"fixed": [1, "two"]}', ec2_event) == b'{"fixed":[1,"two"]}'


# --- InputTransformer: behaviour recorded from AWS ----------------------------------------


@pytest.mark.parametrize(
    ("template", "body"),
    [
        (
            '"Payload of <payload> with path users-service/users/<userId> and <userId>"',
            b'"Payload of {acc_id:0a787ecb-4015,sf_id:baz} with path users-service/users/0a787ecb-4015'
            b' and 0a787ecb-4015"',
        ),
        ('"<listsingle> single list item"', b'"[HIGH] single list item"'),
        ('"<listmulti> multiple list items"', b'"[ACTIVE,INACTIVE] multiple list items"'),
        (
            '"<listsingle> single list item <listmulti> multiple list items <systemstring> system '
            'account id <payload> payload <userId> user id"',
            b'"[HIGH] single list item [ACTIVE,INACTIVE] multiple list items  system account id '
            b'{acc_id:0a787ecb-4015,sf_id:baz} payload 0a787ecb-4015 user id"',
        ),
        ('"Command is <valid>!"', b'"Command is true!"'),
        (
            '"{[/Check with special starting characters <userId>"',
            b'"{[/Check with special starting characters 0a787ecb-4015"',
        ),
        ('"n=<count> r=<ratio> z=<nothing>"', b'"n=3 r=0.5 z=null"'),
    ],
)
def test_recorded_text_templates(account_event: dict[str, Any], template: str, body: bytes) -> None:
    assert transform(ACCOUNT_PATHS, template, account_event) == body


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            '{"method": "PUT", "path": "users-service/users/<userId>", "bod": <payload>}',
            {
                "method": "PUT",
                "path": "users-service/users/0a787ecb-4015",
                "bod": {"acc_id": "0a787ecb-4015", "sf_id": "baz"},
            },
        ),
        ('{"id" : <userId>}', {"id": "0a787ecb-4015"}),
        ('{"id" : "<userId>"}', {"id": "0a787ecb-4015"}),
        (
            '{"method": "PUT", "path": "users-service/users/<userId>", "bod": [<userId>, "hardcoded"]}',
            {"method": "PUT", "path": "users-service/users/0a787ecb-4015", "bod": ["0a787ecb-4015", "hardcoded"]},
        ),
        (
            '{"method": "PUT", "nested": {"level1": {"level2": {"level3": "users-service/users/<userId>"} } },'
            ' "bod": "<userId>"}',
            {
                "method": "PUT",
                "nested": {"level1": {"level2": {"level3": "users-service/users/0a787ecb-4015"}}},
                "bod": "0a787ecb-4015",
            },
        ),
        ('{"singlelistitem": <listsingle>}', {"singlelistitem": ["HIGH"]}),
        (
            '{"multi_replacement": "users/<userId>/second/<userId>"}',
            {"multi_replacement": "users/0a787ecb-4015/second/0a787ecb-4015"},
        ),
        # A path that matches nothing: "" as a JSON value as well as inside a string.
        ('{"command": <systemstring>, "text": "id=<systemstring>."}', {"command": "", "text": "id=."}),
        # Numbers, booleans and null keep their JSON type as values and are text inside strings.
        (
            '{"n": <count>, "r": <ratio>, "b": <valid>, "z": <nothing>, "s": "<count>/<valid>/<nothing>"}',
            {"n": 3, "r": 0.5, "b": True, "z": None, "s": "3/true/null"},
        ),
    ],
)
def test_recorded_json_templates(account_event: dict[str, Any], template: str, expected: Any) -> None:
    assert loads(transform(ACCOUNT_PATHS, template, account_event)) == expected


def test_missing_path_in_text_template(account_event: dict[str, Any]) -> None:
    paths = {"detail-type": "$.detail-type", "timestamp": "$.time", "command": "$.detail.notinmessage"}
    template = '"Event of <detail-type> type, at time <timestamp>, info extracted from detail <command>"'
    assert transform(paths, template, account_event) == (
        b'"Event of core.update-account-command type, at time 2024-05-13T12:27:07Z, info extracted from detail "'
    )


# --- reserved placeholders ----------------------------------------------------------------


def test_event_and_event_json(account_event: dict[str, Any]) -> None:
    body = loads(
        transform(
            {}, '{"originalEvent": <aws.events.event>, "originalEventJson": <aws.events.event.json>}', account_event
        )
    )
    # aws.events.event: the envelope without detail, detail-type named detailType (as recorded).
    envelope = {("detailType" if k == "detail-type" else k): v for k, v in account_event.items() if k != "detail"}
    assert body == {"originalEvent": envelope, "originalEventJson": account_event}


def test_event_json_uses_given_json(ec2_event: dict[str, Any]) -> None:
    raw = b'{"as":"received"}'
    body = render({"InputTransformer": {"InputTemplate": '{"e": <aws.events.event.json>}'}}, ec2_event, event_json=raw)
    assert body == b'{"e":{"as":"received"}}'


@pytest.mark.parametrize("name", ["aws.events.event", "aws.events.event.json"])
@pytest.mark.parametrize("template", ['{"a": "x <{name}>"}', '"x <{name}>"', "<{name}>"])
def test_event_placeholders_only_as_json_values(name: str, template: str) -> None:
    message = refused({"InputTransformer": {"InputTemplate": template.replace("{name}", name)}})
    assert message == (
        f"InputTemplate for target t1 uses <{name}> inside a string; <{name}> can "
        "only be used as the value of a JSON field."
    )


@pytest.mark.parametrize(
    "name",
    [
        "aws.events.rule-arn",
        "aws.events.rule-name",
        "aws.events.event.ingestion-time",
        "aws.events.event",
        "aws.events.event.json",
    ],
)
def test_reserved_names_cannot_be_paths_map_keys(name: str) -> None:
    message = refused(
        {"InputTransformer": {"InputPathsMap": {name: "$.detail"}, "InputTemplate": f'{{"a": <{name}>}}'}}
    )
    assert message.startswith(f"InputPathsMap for target t1 uses the reserved name {name};")


# --- validation ---------------------------------------------------------------------------


def test_invalid_placeholder() -> None:
    # AWS's words, recorded: "... contains invalid placeholder notdefinedkey."
    message = refused(
        {
            "InputTransformer": {
                "InputPathsMap": {"detail-type": "$.detail-type"},
                "InputTemplate": '"Event of <detail-type> type, with not defined key <notdefinedkey>"',
            }
        }
    )
    assert message == "InputTemplate for target t1 contains invalid placeholder notdefinedkey."


def test_invalid_placeholder_in_json_template() -> None:
    message = refused({"InputTransformer": {"InputTemplate": '{"a": <aws.events.rule>}'}})
    assert message == "InputTemplate for target t1 contains invalid placeholder aws.events.rule."


@pytest.mark.parametrize("template", ["{<k>: 1}", '{"<k>": 1}', '{"a<k>b" : 1}', '{"x": {<k> : 2}}'])
def test_placeholder_cannot_be_a_key(template: str) -> None:
    message = refused({"InputTransformer": {"InputPathsMap": {"k": "$.id"}, "InputTemplate": template}})
    assert message == (
        "InputTemplate for target t1 uses placeholder <k> as an object key; "
        "a placeholder cannot be used as an object key."
    )


@pytest.mark.parametrize("template", ['{"a": <k>', '{"a": <k> <k>}', '{"a": "<k>}', "{a: <k>}"])
def test_json_template_must_be_json(template: str) -> None:
    message = refused({"InputTransformer": {"InputPathsMap": {"k": "$.id"}, "InputTemplate": template}})
    assert message.startswith("InputTemplate for target t1 is not valid JSON: ")


def test_too_many_paths() -> None:
    paths = {f"k{i}": "$.id" for i in range(101)}
    message = refused({"InputTransformer": {"InputPathsMap": paths, "InputTemplate": '"x"'}})
    assert message == "InputPathsMap for target t1 has 101 entries; at most 100 are allowed."


def test_one_hundred_paths_are_allowed(ec2_event: dict[str, Any]) -> None:
    paths = {f"k{i}": "$.id" for i in range(100)}
    assert transform(paths, '"<k0>-<k99>"', ec2_event) == f'"{ec2_event["id"]}-{ec2_event["id"]}"'.encode()


@pytest.mark.parametrize("key", ["a.b", "a b", "", "é"])
def test_paths_map_key_pattern(key: str) -> None:
    message = refused({"InputTransformer": {"InputPathsMap": {key: "$.id"}, "InputTemplate": '"x"'}})
    assert message.startswith(f"InputPathsMap for target t1 has an invalid key {key};")


def test_paths_map_values_are_json_paths() -> None:
    message = refused({"InputTransformer": {"InputPathsMap": {"k": "detail.x"}, "InputTemplate": '"<k>"'}})
    assert message.startswith("InputPathsMap for target t1 has an invalid JSON path for k: ")


def test_template_is_required() -> None:
    assert refused({"InputTransformer": {"InputPathsMap": {}}}) == (
        "InputTransformer for target t1 must have an InputTemplate."
    )


# --- values that cannot go inside a JSON string -------------------------------------------


@pytest.mark.parametrize("name", ["payload", "listmulti"])
def test_object_or_array_inside_json_string_fails_the_delivery(account_event: dict[str, Any], name: str) -> None:
    # AWS delivers nothing for these (LocalStack's validated "not_valid" cases).
    with pytest.raises(InputRenderError, match=f"the value of <{name}> is a JSON object or array"):
        transform(ACCOUNT_PATHS, f'{{"payload": "<{name}>"}}', account_event)


@pytest.mark.parametrize("value", ['say "hi"', "back\\slash", "line\nbreak"])
def test_unescapable_string_inside_json_string_fails_the_delivery(ec2_event: dict[str, Any], value: str) -> None:
    ec2_event["detail"]["state"] = value
    with pytest.raises(InputRenderError, match="contains a quote, backslash or control character"):
        transform(EC2_PATHS, '{"s": "state <state>"}', ec2_event)
    # As a JSON value the same string is written as JSON, and in a text template as is.
    assert loads(transform(EC2_PATHS, '{"s": <state>}', ec2_event)) == {"s": value}
    assert transform(EC2_PATHS, "state <state>", ec2_event) == f"state {value}".encode()


def test_values_are_not_escaped_in_text_templates(ec2_event: dict[str, Any]) -> None:
    ec2_event["detail"]["state"] = 'a "quoted" <b>'
    assert transform(EC2_PATHS, '"<state>"', ec2_event) == b'"a "quoted" <b>"'


def test_non_ascii_values(ec2_event: dict[str, Any]) -> None:
    ec2_event["detail"]["state"] = "ÉTAT ✓"
    assert loads(transform(EC2_PATHS, '{"s": <state>, "t": "<state>!"}', ec2_event)) == {"s": "ÉTAT ✓", "t": "ÉTAT ✓!"}


def test_wildcard_path_gives_a_list(account_event: dict[str, Any]) -> None:
    paths = {"ids": "$.detail.payload.*"}
    assert loads(transform(paths, '{"ids": <ids>}', account_event)) == {"ids": ["0a787ecb-4015", "baz"]}


def test_compiled_target_renders_many_events(ec2_event: dict[str, Any]) -> None:
    compiled = compile_target_input(
        {
            "Id": "t1",
            "Arn": "arn",
            "InputTransformer": {"InputPathsMap": EC2_PATHS, "InputTemplate": '{"i": <instance>}'},
        }
    )
    for n in range(3):
        ec2_event["detail"]["instance-id"] = f"i-{n}"
        body = compiled.render(ec2_event, rule_arn=RULE_ARN, rule_name=RULE_NAME, ingestion_time=INGESTION_TIME)
        assert body == f'{{"i":"i-{n}"}}'.encode()
