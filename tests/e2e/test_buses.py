"""Event buses and tags through real boto3."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError

from support import ACCOUNT, REGION, error_of, unique


def test_default_bus_always_exists(events):
    bus = events.describe_event_bus()
    assert bus["Name"] == "default"
    assert bus["Arn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    assert events.describe_event_bus(Name="default")["Arn"] == bus["Arn"]
    assert events.describe_event_bus(Name=bus["Arn"])["Name"] == "default"


def test_create_describe_update_delete(events):
    name = unique("bus")
    created = events.create_event_bus(Name=name, Description="orders of the shop")
    arn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"
    assert created["EventBusArn"] == arn
    assert created["Description"] == "orders of the shop"
    described = events.describe_event_bus(Name=name)
    assert described["Name"] == name and described["Arn"] == arn
    assert described["Description"] == "orders of the shop"
    assert isinstance(described["CreationTime"], dt.datetime)
    updated = events.update_event_bus(Name=name, Description="new words")
    assert updated["Arn"] == arn and updated["Description"] == "new words"
    assert events.describe_event_bus(Name=arn)["Description"] == "new words"
    events.delete_event_bus(Name=name)
    with pytest.raises(ClientError) as raised:
        events.describe_event_bus(Name=name)
    assert error_of(raised) == ("ResourceNotFoundException", f"Event bus {name} does not exist.")


def test_create_twice(events):
    name = unique("bus")
    events.create_event_bus(Name=name)
    with pytest.raises(events.exceptions.ResourceAlreadyExistsException) as raised:
        events.create_event_bus(Name=name)
    assert error_of(raised) == ("ResourceAlreadyExistsException", f"Event bus {name} already exists.")
    with pytest.raises(ClientError) as raised:
        events.create_event_bus(Name="default")
    assert error_of(raised) == ("ResourceAlreadyExistsException", "Event bus default already exists.")


def test_cannot_delete_default(events):
    with pytest.raises(ClientError) as raised:
        events.delete_event_bus(Name="default")
    assert error_of(raised) == ("ValidationException", "Cannot delete event bus default.")


def test_delete_missing_bus_succeeds(events):
    events.delete_event_bus(Name=unique("bus"))


def test_not_found_errors(events):
    name = unique("bus")
    for call in (
        lambda: events.describe_event_bus(Name=name),
        lambda: events.update_event_bus(Name=name, Description="x"),
    ):
        with pytest.raises(events.exceptions.ResourceNotFoundException) as raised:
            call()
        assert error_of(raised) == ("ResourceNotFoundException", f"Event bus {name} does not exist.")


def test_invalid_names(events):
    with pytest.raises(ClientError) as raised:
        events.create_event_bus(Name="bad name")
    code, message = error_of(raised)
    assert code == "ValidationException"
    assert message == (
        "1 validation error detected: Value 'bad name' at 'name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [/\\.\\-_A-Za-z0-9]+"
    )
    with pytest.raises(ClientError) as raised:
        events.create_event_bus(Name="x" * 257)
    assert "Member must have length less than or equal to 256" in error_of(raised)[1]
    with pytest.raises(ClientError) as raised:
        events.create_event_bus(Name="a/b")
    assert error_of(raised)[0] == "ValidationException"


def test_partner_sources_do_not_exist(events):
    with pytest.raises(ClientError) as raised:
        events.create_event_bus(Name="aws.partner/acme.com/123/src", EventSourceName="aws.partner/acme.com/123/src")
    assert error_of(raised)[0] == "ResourceNotFoundException"


def test_list_with_prefix_and_pages(events):
    prefix = unique("list")
    names = [f"{prefix}-{i:02d}" for i in range(7)]
    for name in names:
        events.create_event_bus(Name=name)
    listed = events.list_event_buses(NamePrefix=prefix)
    assert [bus["Name"] for bus in listed["EventBuses"]] == names
    assert "NextToken" not in listed
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"NamePrefix": prefix, "Limit": 3}
        if token:
            kwargs["NextToken"] = token
        page = events.list_event_buses(**kwargs)
        pages += 1
        seen += [bus["Name"] for bus in page["EventBuses"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names and pages == 3
    everything = events.list_event_buses()["EventBuses"]
    assert "default" in [bus["Name"] for bus in everything]


def test_tags(events):
    name = unique("bus")
    arn = events.create_event_bus(Name=name, Tags=[{"Key": "team", "Value": "shop"}])["EventBusArn"]
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "shop"}]
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "ops"}])
    tags = {t["Key"]: t["Value"] for t in events.list_tags_for_resource(ResourceARN=arn)["Tags"]}
    assert tags == {"team": "ops", "env": "prod"}
    events.untag_resource(ResourceARN=arn, TagKeys=["team", "missing"])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]
    events.delete_event_bus(Name=name)
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.list_tags_for_resource(ResourceARN=arn)
    # A bus created again under the same name does not inherit the old tags.
    events.create_event_bus(Name=name)
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == []


def test_tags_on_missing_resource(events):
    arn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{unique('bus')}"
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.tag_resource(ResourceARN=arn, Tags=[{"Key": "a", "Value": "b"}])
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.list_tags_for_resource(ResourceARN="arn:aws:sqs:us-east-1:000000000000:queue")


def test_buses_survive_restart(fresh_server):
    client = fresh_server.start().client()
    client.create_event_bus(Name="kept", Description="still here", Tags=[{"Key": "k", "Value": "v"}])
    assert fresh_server.stop() == 0
    client = fresh_server.start().client()
    assert client.describe_event_bus(Name="kept")["Description"] == "still here"
    arn = client.describe_event_bus(Name="kept")["Arn"]
    assert client.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
