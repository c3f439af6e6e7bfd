"""busbar --aws-targets delivers to AWS service targets through their real APIs:
moto's server for SQS, SNS, Kinesis, Firehose, Step Functions, CloudWatch Logs and
EventBridge, a local Lambda Invoke server for Lambda.  What each service received
is read back through its own API and compared byte for byte with what an API
destination on the same rule received (the same payload, from the same store)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from busbar.delivery.aws.logs import log_stream_name

from aws_support import AWS_ACCOUNT, arn, eventually, queue, receive
from delivery_support import api_destination, dead_letters_of, put, rule_with_targets, unique
from httptarget import HttpTarget
from lambdastub import LambdaReply, LambdaStub
from support import BusbarProcess, free_port

TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


@pytest.fixture
def http_target() -> Iterator[HttpTarget]:
    server = HttpTarget().start()
    yield server
    server.stop()


@pytest.fixture
def sqs(aws: Any) -> Any:
    return aws("sqs")


def witness(events: Any, http_target: HttpTarget) -> dict[str, Any]:
    """A second target for the same rule: an API destination whose received bodies are
    what busbar delivered, byte for byte."""
    return {"Id": "witness", "Arn": api_destination(events, http_target.url + "/events")}


def test_sqs_receives_the_event_byte_for_byte(events, sqs, http_target):
    url, queue_arn = queue(sqs, unique("q"))
    source = unique("shop")
    rule_with_targets(events, {"source": [source]}, [{"Id": "q", "Arn": queue_arn}, witness(events, http_target)])
    event_id = put(events, {"order": "A-1", "total": 9.5, "text": "ünïcode"}, source=source, TraceHeader=TRACE)

    [message] = receive(sqs, url, 1)
    [witnessed] = http_target.wait_for(1)
    assert message["Body"].encode() == witnessed.body
    body = json.loads(message["Body"])
    assert body["id"] == event_id and body["source"] == source
    assert body["detail"] == {"order": "A-1", "total": 9.5, "text": "ünïcode"}
    assert message["Attributes"].get("AWSTraceHeader") == TRACE


def test_sqs_receives_the_shaped_input(events, sqs):
    url, queue_arn = queue(sqs, unique("q"))
    source = unique("shop")
    name = rule_with_targets(
        events,
        {"source": [source]},
        [
            {
                "Id": "shaped",
                "Arn": queue_arn,
                "InputTransformer": {
                    "InputPathsMap": {"order": "$.detail.order"},
                    "InputTemplate": '{"order": <order>, "rule": "<aws.events.rule-name>"}',
                },
            },
            {"Id": "constant", "Arn": queue_arn, "Input": '{"fixed": true}'},
        ],
    )
    put(events, {"order": "A-2"}, source=source)

    bodies = sorted(message["Body"] for message in receive(sqs, url, 2))
    # busbar's input transformer writes JSON templates compactly.
    assert bodies == sorted(['{"order":"A-2","rule":"' + name + '"}', '{"fixed": true}'])


def test_fifo_queue_gets_the_group_and_the_event_id_as_deduplication_id(events, sqs):
    url, queue_arn = queue(sqs, unique("q") + ".fifo", FifoQueue="true")
    source = unique("shop")
    rule_with_targets(
        events, {"source": [source]}, [{"Id": "fifo", "Arn": queue_arn, "SqsParameters": {"MessageGroupId": "orders"}}]
    )
    ids = [put(events, {"n": n}, source=source) for n in range(3)]

    messages = receive(sqs, url, 3)
    assert sorted(json.loads(m["Body"])["id"] for m in messages) == sorted(ids)
    assert {m["Attributes"]["MessageGroupId"] for m in messages} == {"orders"}
    assert all(m["Attributes"]["MessageDeduplicationId"] == json.loads(m["Body"])["id"] for m in messages)


def test_sns_publishes_the_event(events, aws, sqs, http_target):
    sns = aws("sns")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    url, queue_arn = queue(sqs, unique("sub"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    source = unique("shop")
    rule_with_targets(events, {"source": [source]}, [{"Id": "t", "Arn": topic}, witness(events, http_target)])
    put(events, {"order": "A-3"}, source=source)

    [message] = receive(sqs, url, 1)
    [witnessed] = http_target.wait_for(1)
    assert message["Body"].encode() == witnessed.body


def test_lambda_is_invoked_asynchronously_with_the_event(events, lambda_stub: LambdaStub, http_target):
    function = unique("fn")
    function_arn = arn("lambda", f"function:{function}")
    alias_arn = f"{function_arn}:live"
    source = unique("shop")
    rule_with_targets(
        events,
        {"source": [source]},
        [{"Id": "fn", "Arn": function_arn}, {"Id": "alias", "Arn": alias_arn}, witness(events, http_target)],
    )
    put(events, {"order": "A-4"}, source=source, TraceHeader=TRACE)

    [plain] = lambda_stub.wait_for(1, function=function_arn)
    [aliased] = lambda_stub.wait_for(1, function=alias_arn)
    [witnessed] = http_target.wait_for(1)
    for invocation in (plain, aliased):
        assert invocation.invocation_type == "Event"
        assert invocation.payload == witnessed.body
        assert invocation.trace_header == TRACE
        assert invocation.access_key == "test"  # busbar's own credentials: no role is assumed


def test_throttled_lambda_is_retried(events, lambda_stub: LambdaStub):
    function_arn = arn("lambda", f"function:{unique('fn')}")
    source = unique("shop")
    rule_with_targets(events, {"source": [source]}, [{"Id": "fn", "Arn": function_arn}])
    lambda_stub.script(LambdaReply.throttled(), LambdaReply.throttled(retry_after=0))
    event_id = put(events, {"order": "A-5"}, source=source)

    [invocation] = lambda_stub.wait_for(1, function=function_arn)
    assert invocation.json()["id"] == event_id
    statuses = [status for call, status in lambda_stub.answered if call.function == function_arn]
    assert statuses == [429, 429, 202]


def test_kinesis_partition_keys(events, aws, http_target):
    kinesis = aws("kinesis")
    stream = unique("stream")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    stream_arn = arn("kinesis", f"stream/{stream}")
    role = f"arn:aws:iam::{AWS_ACCOUNT}:role/events-to-kinesis"
    source = unique("shop")
    rule_with_targets(
        events,
        {"source": [source]},
        [
            {
                "Id": "by-customer",
                "Arn": stream_arn,
                "RoleArn": role,
                "KinesisParameters": {"PartitionKeyPath": "$.detail.customer"},
            },
            {"Id": "by-id", "Arn": stream_arn, "RoleArn": role},
            witness(events, http_target),
        ],
    )
    event_id = put(events, {"customer": "c-42"}, source=source)
    [witnessed] = http_target.wait_for(1)

    shard = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")

    def records() -> list[dict[str, Any]]:
        got = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
        return got if len(got) >= 2 else []

    found = eventually(records)
    assert sorted(record["PartitionKey"] for record in found) == sorted(["c-42", event_id])
    assert {record["Data"] for record in found} == {witnessed.body}


def test_firehose_record_is_the_event(events, aws, http_target):
    s3, firehose = aws("s3"), aws("firehose")
    bucket, stream = unique("bucket"), unique("hose")
    s3.create_bucket(Bucket=bucket)
    firehose.create_delivery_stream(
        DeliveryStreamName=stream,
        ExtendedS3DestinationConfiguration={
            "RoleARN": f"arn:aws:iam::{AWS_ACCOUNT}:role/firehose",
            "BucketARN": f"arn:aws:s3:::{bucket}",
        },
    )
    source = unique("shop")
    rule_with_targets(
        events,
        {"source": [source]},
        [
            {
                "Id": "hose",
                "Arn": arn("firehose", f"deliverystream/{stream}"),
                "RoleArn": f"arn:aws:iam::{AWS_ACCOUNT}:role/events-to-firehose",
            },
            witness(events, http_target),
        ],
    )
    put(events, {"order": "A-6"}, source=source)
    [witnessed] = http_target.wait_for(1)

    objects = eventually(lambda: s3.list_objects_v2(Bucket=bucket).get("Contents"))
    assert objects, "Firehose wrote nothing to its bucket"
    assert s3.get_object(Bucket=bucket, Key=objects[0]["Key"])["Body"].read() == witnessed.body


def test_step_functions_execution_gets_the_event_as_input(events, aws, http_target):
    sfn = aws("stepfunctions")
    machine = sfn.create_state_machine(
        name=unique("machine"),
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
        roleArn=f"arn:aws:iam::{AWS_ACCOUNT}:role/sfn",
    )["stateMachineArn"]
    source = unique("shop")
    rule_with_targets(
        events,
        {"source": [source]},
        [
            {"Id": "sfn", "Arn": machine, "RoleArn": f"arn:aws:iam::{AWS_ACCOUNT}:role/events-to-sfn"},
            witness(events, http_target),
        ],
    )
    put(events, {"order": "A-7"}, source=source)
    [witnessed] = http_target.wait_for(1)

    executions = eventually(lambda: sfn.list_executions(stateMachineArn=machine)["executions"])
    assert len(executions) == 1
    described = sfn.describe_execution(executionArn=executions[0]["executionArn"])
    assert described["input"].encode() == witnessed.body


def test_cloudwatch_logs_stream_per_rule_target(events, aws, http_target):
    logs = aws("logs")
    group = f"/aws/events/{unique('group')}"
    logs.create_log_group(logGroupName=group)
    source = unique("shop")
    name = rule_with_targets(
        events,
        {"source": [source]},
        [{"Id": "log", "Arn": arn("logs", f"log-group:{group}")}, witness(events, http_target)],
    )
    rule_arn = f"arn:aws:events:us-east-1:000000000000:rule/{name}"
    put(events, {"n": 1}, source=source)
    put(events, {"n": 2}, source=source)
    witnessed = http_target.wait_for(2)

    stream = log_stream_name(rule_arn, "log")

    def read() -> list[dict[str, Any]]:
        try:
            got = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []  # the stream is created with the first delivery
        return got if len(got) >= 2 else []

    found = eventually(read)
    assert sorted(event["message"] for event in found) == sorted(w.body.decode() for w in witnessed)
    times = {json.loads(w.body)["time"] for w in witnessed}
    assert {event["timestamp"] for event in found} == {_epoch_ms(t) for t in times}  # the events' time
    assert [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]] == [stream]


def test_cloudwatch_logs_takes_timestamp_and_message_from_the_documented_shape(events, aws):
    logs = aws("logs")
    group = f"/aws/events/{unique('group')}"
    logs.create_log_group(logGroupName=group)
    source = unique("shop")
    stamp = int(time.time() * 1000) - 60_000  # CloudWatch Logs refuses events older than 14 days
    shaped = {
        "Id": "shaped",
        "Arn": arn("logs", f"log-group:{group}"),
        "InputTransformer": {
            "InputPathsMap": {"kind": "$.detail-type", "order": "$.detail.order"},
            "InputTemplate": f'{{"timestamp": {stamp}, "message": "<kind> <order>"}}',
        },
    }
    name = rule_with_targets(events, {"source": [source]}, [shaped])
    put(events, {"order": "A-11"}, source=source)
    stream = log_stream_name(f"arn:aws:events:us-east-1:000000000000:rule/{name}", "shaped")

    def read() -> list[dict[str, Any]]:
        try:
            return logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]  # type: ignore[no-any-return]
        except logs.exceptions.ResourceNotFoundException:
            return []

    [event] = eventually(read)
    assert (event["timestamp"], event["message"]) == (stamp, "OrderPlaced A-11")


def _epoch_ms(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def test_bus_in_another_region_gets_the_event(events, aws):
    """busbar forwards to EventBridge in us-west-2 (moto), whose rule puts it on a queue."""
    west, west_sqs = aws("events", "us-west-2"), aws("sqs", "us-west-2")
    bus = unique("west-bus")
    bus_arn = west.create_event_bus(Name=bus)["EventBusArn"]
    name = unique("west-q")
    url = west_sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = arn("sqs", name, region="us-west-2")
    source = unique("shop")
    west.put_rule(Name="all", EventBusName=bus, EventPattern=json.dumps({"source": [source]}))
    west.put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])

    with pytest.raises(events.exceptions.ClientError) as refused:
        rule_with_targets(events, {"source": [source]}, [{"Id": "west", "Arn": bus_arn}])
    assert refused.value.response["Error"]["Message"] == f"RoleArn is required for target {bus_arn}."

    role = f"arn:aws:iam::{AWS_ACCOUNT}:role/events-cross-region"
    rule_with_targets(events, {"source": [source]}, [{"Id": "west", "Arn": bus_arn, "RoleArn": role}])
    put(events, {"order": "A-8"}, source=source)

    [message] = receive(west_sqs, url, 1)
    forwarded = json.loads(message["Body"])
    assert forwarded["source"] == source and forwarded["detail"] == {"order": "A-8"}


def test_missing_queue_is_dead_lettered_at_once(events, aws_busbar):
    missing = arn("sqs", unique("gone"))
    source = unique("shop")
    rule_with_targets(events, {"source": [source]}, [{"Id": "gone", "Arn": missing}])
    event_id = put(events, {"order": "A-9"}, source=source)

    [dead] = dead_letters_of(aws_busbar, event_id)
    assert dead["attempts"] == 1  # not retried: a missing queue stays missing
    assert dead["error_code"] == "NO_RESOURCE"
    assert "NonExistentQueue" in dead["error_message"] or "QueueDoesNotExist" in dead["error_message"]


def test_a_dead_letter_goes_to_the_sqs_queue_of_its_dead_letter_config(events, sqs, aws_busbar):
    """As EventBridge: the original event (not the shaped input) with the dead-letter
    attributes, in the queue the target's DeadLetterConfig names."""
    dlq_url, dlq_arn = queue(sqs, unique("dlq"))
    missing = arn("sqs", unique("gone"))
    source = unique("shop")
    target = {"Id": "gone", "Arn": missing, "Input": '{"shaped": true}', "DeadLetterConfig": {"Arn": dlq_arn}}
    rule_arn = events.describe_rule(Name=rule_with_targets(events, {"source": [source]}, [target]))["Arn"]
    event_id = put(events, {"order": "A-10"}, source=source)

    [message] = receive(sqs, dlq_url, 1)
    body = json.loads(message["Body"])
    assert body["id"] == event_id and body["detail"] == {"order": "A-10"}
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NO_RESOURCE"
    assert "NonExistentQueue" in attributes["ERROR_MESSAGE"] or "QueueDoesNotExist" in attributes["ERROR_MESSAGE"]
    assert (
        attributes["RETRY_ATTEMPTS"] == "0" and message["MessageAttributes"]["RETRY_ATTEMPTS"]["DataType"] == "Number"
    )
    assert (attributes["RULE_ARN"], attributes["TARGET_ARN"]) == (rule_arn, missing)
    assert not dead_letters_of(aws_busbar, event_id, timeout=0.5)  # sent to the queue, not kept


def test_a_dead_letter_queue_that_is_missing_keeps_the_dead_letter(events, aws_busbar):
    missing, dlq = arn("sqs", unique("gone")), arn("sqs", unique("no-dlq"))
    source = unique("shop")
    rule_with_targets(events, {"source": [source]}, [{"Id": "gone", "Arn": missing, "DeadLetterConfig": {"Arn": dlq}}])
    event_id = put(events, {"order": "A-11"}, source=source)

    [dead] = dead_letters_of(aws_busbar, event_id)
    assert dead["target_arn"] == dlq and dead["error_code"] == "NO_RESOURCE"  # the dead letter's own delivery


def test_unreachable_service_is_retried_until_it_answers(aws_env, tmp_path, aws, lambda_stub):
    """busbar pointed at an address where nothing listens keeps the delivery pending
    (retrying); once the queue is reachable (the next start points at moto), it arrives."""
    sqs = aws("sqs")
    url, queue_arn = queue(sqs, unique("later"))
    nowhere = dict(aws_env, AWS_ENDPOINT_URL_SQS=f"http://127.0.0.1:{free_port()}")
    args = ["--aws-targets", "--retry-base-delay", "0.1", "--retry-max-delay", "0.2"]
    server = BusbarProcess(tmp_path / "data", env=nowhere, args=args).start()
    try:
        client = server.client()
        source = unique("shop")
        rule_with_targets(client, {"source": [source]}, [{"Id": "q", "Arn": queue_arn}])
        event_id = put(client, {"order": "A-10"}, source=source)
        time.sleep(1.0)  # several attempts fail meanwhile
        assert not dead_letters_of(server, event_id, timeout=0.1)
    finally:
        server.stop()
    server = BusbarProcess(tmp_path / "data", port=server.port, env=aws_env, args=args).start()
    try:
        [message] = receive(sqs, url, 1)
        assert json.loads(message["Body"])["id"] == event_id
    finally:
        server.stop()
