"""RuleIndex: the compiled rules routing uses, kept current rule by rule."""

from __future__ import annotations

import json

from busbar.ruleindex import RuleIndex

LOG = "arn:aws:logs:us-east-1:000000000000:log-group:x"


def rule(
    name: str, bus: str = "default", state: str = "ENABLED", source: str = "shop", targets: list | None = None
) -> dict:
    return {
        "Name": name,
        "EventBusName": bus,
        "Arn": f"arn:{bus}:{name}",
        "State": state,
        "EventPattern": json.dumps({"source": [source]}),
        "Targets": [{"Id": "t", "Arn": LOG}] if targets is None else targets,
    }


def names(index: RuleIndex, bus: str, source: str) -> list[str]:
    return sorted(r.name for r in index.match(bus, {"source": source}))


def test_add_replace_disable_remove():
    index = RuleIndex()
    assert not index.routes("default")
    index.update("default", rule("a"))
    index.update("default", rule("b", source="other"))
    assert index.routes("default") and not index.routes("elsewhere")
    assert names(index, "default", "shop") == ["a"]
    index.update("default", rule("b"))  # replaced: now matches shop too
    assert names(index, "default", "shop") == ["a", "b"]
    index.update("default", rule("a", state="DISABLED"))
    assert names(index, "default", "shop") == ["b"]
    index.remove("default", "b")
    assert names(index, "default", "shop") == []
    assert not index.routes("default")
    index.remove("default", "b")  # removing twice is harmless


def test_rules_without_targets_do_not_route():
    index = RuleIndex()
    index.update("default", rule("a", targets=[]))
    assert not index.routes("default")
    assert names(index, "default", "shop") == []


def test_buses_are_separate():
    index = RuleIndex()
    index.update("orders", rule("a", bus="orders"))
    assert names(index, "orders", "shop") == ["a"]
    assert names(index, "default", "shop") == []


def test_passthrough_and_shaped_targets():
    index = RuleIndex()
    index.update(
        "default",
        rule("a", targets=[{"Id": "plain", "Arn": LOG}, {"Id": "shaped", "Arn": LOG, "InputPath": "$.detail"}]),
    )
    [compiled] = index.match("default", {"source": "shop", "detail": {"x": 1}})
    assert [(t.config["Id"], t.passthrough) for t in compiled.targets] == [("plain", True), ("shaped", False)]
