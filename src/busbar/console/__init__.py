"""busbar's web console at ``/console/``: event buses and their rules, connections and API
destinations, a live tail, a sandbox, deliveries with redrive, charts of the last hour
and the event bus logs.  Server-rendered pages (Jinja2), a little script for the tail,
no build step, nothing fetched from elsewhere at run time."""

from busbar.console.app import Console, ConsoleParts

__all__ = ["Console", "ConsoleParts"]
