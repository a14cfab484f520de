"""A stand-in for the FastAGI server's logging: writes numbered call.end lines through
ReopenableSink as fast as it can (about one per millisecond), reopens on SIGHUP, and on
SIGTERM writes how many lines it wrote to `<state>/writer.done` and exits."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from ivr.service.logsink import ReopenableSink, reopen_on_sighup


async def main(state: Path) -> None:
    sink = ReopenableSink(state / "logs" / "calls.jsonl", stdout=True)
    loop = asyncio.get_running_loop()
    reopen_on_sighup(loop, sink)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    n = 0
    while not stop.is_set():
        sink.write(json.dumps({"event": "call.end", "n": n, "outcome": "set"}))
        n += 1
        await asyncio.sleep(0.001)
    sink.flush()
    sink.close()
    (state / "writer.done").write_text(f"{n} {sink.reopened}\n")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
