"""One sender per kind of target, built for a server."""

from __future__ import annotations

from busbar.config import Settings
from busbar.delivery.base import Sender
from busbar.delivery.bus import BusSender
from busbar.delivery.http import HttpSender
from busbar.delivery.loggroup import LogGroupSender
from busbar.model.arns import TargetKind
from busbar.resources.scope import Scope
from busbar.store.base import Store


def build_senders(store: Store, settings: Settings) -> dict[TargetKind, Sender]:
    return {
        TargetKind.API_DESTINATION: HttpSender(store, settings),
        TargetKind.EVENT_BUS: BusSender(store),
        TargetKind.LOG_GROUP: LogGroupSender(settings.data_dir, Scope(settings.account_id, settings.region)),
    }
