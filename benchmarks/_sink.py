"""A fast HTTP sink for the delivery benchmark: records when each event id
arrives.  Run as ``python _sink.py PORT``; ``GET /stats`` answers
``{"received": [[id, epoch], ...]}``, ``POST /reset`` forgets everything, any
other request is recorded and answered 200."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time

ID = re.compile(rb'"id"\s*:\s*"([^"]+)"')
received: list[tuple[str, float]] = []


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            now = time.time()
            if head.startswith(b"GET /stats"):
                payload = json.dumps({"received": received}).encode()
            elif head.startswith(b"POST /reset"):
                received.clear()
                payload = b"{}"
            else:
                match = ID.search(body)
                # moto's server invokes API destinations without a body: count those too.
                received.append((match.group(1).decode() if match else "", now))
                payload = b"{}"
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(payload)).encode()
                + b"\r\n\r\n"
                + payload
            )
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(int(sys.argv[1])))
