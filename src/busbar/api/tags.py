"""Tags on resources: TagResource, UntagResource, ListTagsForResource.

Tags are stored per ARN as one ``{key: value}`` document, so a resource's tags
change in one write."""

from __future__ import annotations

from typing import Any

from busbar.api.context import Context
from busbar.api.errors import ValidationException
from busbar.api.resources import TAGS, check_taggable

MAX_TAGS = 50


def tag_dict(tags: list[dict[str, str]]) -> dict[str, str]:
    """A TagList as a dict (a later duplicate key wins, as in AWS)."""
    result = {tag["Key"]: tag["Value"] for tag in tags}
    if len(result) > MAX_TAGS:
        raise ValidationException(f"A resource can have at most {MAX_TAGS} tags.")
    return result


async def tag_resource(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    arn = body["ResourceARN"]
    check_taggable(ctx, arn)
    tags = dict(ctx.store.get_resource(TAGS, arn) or {})
    tags.update(tag_dict(body["Tags"]))
    if len(tags) > MAX_TAGS:
        raise ValidationException(f"A resource can have at most {MAX_TAGS} tags.")
    await ctx.store.put_resource(TAGS, arn, tags)
    return {}


async def untag_resource(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    arn = body["ResourceARN"]
    check_taggable(ctx, arn)
    tags = dict(ctx.store.get_resource(TAGS, arn) or {})
    for key in body["TagKeys"]:
        tags.pop(key, None)
    await ctx.store.put_resource(TAGS, arn, tags)
    return {}


async def list_tags_for_resource(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    arn = body["ResourceARN"]
    check_taggable(ctx, arn)
    tags = ctx.store.get_resource(TAGS, arn) or {}
    return {"Tags": [{"Key": key, "Value": value} for key, value in tags.items()]}
