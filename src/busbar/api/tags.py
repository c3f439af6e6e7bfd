"""Tags on resources: TagResource, UntagResource, ListTagsForResource.

Tags are stored per ARN as one ``{key: value}`` document and changed with the
store's compare-and-set (:meth:`Store.modify`), so concurrent calls never lose a tag."""

from __future__ import annotations

from typing import Any

from busbar.api.context import Context
from busbar.api.errors import ValidationException
from busbar.api.resources import check_taggable
from busbar.resources.kinds import TAGS

MAX_TAGS = 50


def tag_dict(tags: list[dict[str, str]]) -> dict[str, str]:
    """A TagList as a dict (a later duplicate key wins, as in AWS)."""
    result = {tag["Key"]: tag["Value"] for tag in tags}
    if len(result) > MAX_TAGS:
        raise ValidationException(f"A resource can have at most {MAX_TAGS} tags.")
    return result


async def add_tags(ctx: Context, arn: str, tags: list[dict[str, str]]) -> None:
    """Add *tags* to the resource *arn* (replacing values of keys it has)."""
    new = tag_dict(tags)

    def add(stored: dict[str, Any] | None) -> dict[str, Any]:
        merged = {**(stored or {}), **new}
        if len(merged) > MAX_TAGS:
            raise ValidationException(f"A resource can have at most {MAX_TAGS} tags.")
        return merged

    await ctx.store.modify(TAGS, arn, add)


async def tag_resource(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    arn = body["ResourceARN"]
    check_taggable(ctx, arn, changing=True)
    await add_tags(ctx, arn, body["Tags"])
    return {}


async def untag_resource(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    arn = body["ResourceARN"]
    check_taggable(ctx, arn, changing=True)
    keys = set(body["TagKeys"])

    def remove(stored: dict[str, Any] | None) -> dict[str, Any] | None:
        kept = {key: value for key, value in (stored or {}).items() if key not in keys}
        return kept or None

    await ctx.store.modify(TAGS, arn, remove)
    return {}


async def list_tags_for_resource(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    arn = body["ResourceARN"]
    check_taggable(ctx, arn)
    tags = ctx.store.get_resource(TAGS, arn) or {}
    return {"Tags": [{"Key": key, "Value": value} for key, value in tags.items()]}
