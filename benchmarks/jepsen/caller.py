"""The partition test's callers: a simulated Asterisk in its own netns, calling at a rate.

Each call tries the FastAGI servers in turn (call k starts at server k mod n, as two
Asterisk nodes would), with a connect timeout like the dialplan's: a blackholed server costs
that timeout, a refused one nothing. The caller keys menu 1 and its password twice
(benchmarks.agi_caller.Channel answers each command the way Asterisk would). The password
is derived from the call id with the run's secret seed (a 0600 file), so no history holds
one. Output: one JSONL line per call, with its times, the server that took it and the time
lost to servers that did not answer; its outcome is the server's own call log.

    python -m benchmarks.jepsen.caller CONFIG.json
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import random
import signal
import sys
import time
from pathlib import Path
from typing import TextIO

from benchmarks.agi_caller import _DEAD, DID, Caller, Channel, environment, parse

CONNECT_S = 2.0  # the dialplan's AGI connect timeout per server
COMMAND_S = 20.0  # no reply from the server this long: the call is given up


def password_of(seed: bytes, call_id: str) -> str:
    """The call's 8 digits, from the run's seed (the same in every process of the run)."""
    digest = hmac.new(seed, call_id.encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 100_000_000:08d}"


Link = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _connect(host: str, port: int) -> Link:
    return await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_S)


async def _line(reader: asyncio.StreamReader, hung_up: bool) -> bytes:
    """The server's next command; after its HANGUP, a reset is just the end."""
    try:
        return await asyncio.wait_for(reader.readline(), COMMAND_S)
    except ConnectionResetError:
        if hung_up:
            return b""
        raise


async def _dialog(link: Link, env: bytes, channel: Channel | None) -> bool:
    """One AGI session; True when the server hung the call up itself (it ran to its end)."""
    reader, writer = link
    hung_up = False
    try:
        writer.write(env)
        while line := await _line(reader, hung_up):
            if channel is None:  # the call-end script: the channel is gone
                writer.write(_DEAD)
                continue
            verb, args = parse(line.decode().rstrip("\n"))
            reply, delay = channel.answer(verb, args)
            if delay:
                await asyncio.sleep(min(delay, 1.0))
            writer.write(reply)
            if verb == "HANGUP":
                hung_up = True
                writer.write(b"HANGUP\n")
    finally:
        writer.close()
    return hung_up


async def call(k: int, number: str, cfg: dict, seed: bytes, secret: str) -> dict:
    call_id = f"{cfg['t0']}.{k}"
    caller = Caller(number, password_of(seed, call_id), call_id)
    servers = cfg["servers"]
    rec: dict = {"event": "call", "call_id": call_id, "caller": number, "t_start": time.time()}
    lost_s, taken = 0.0, None
    for i in range(len(servers)):
        host, port = servers[(k + i) % len(servers)]
        t = time.time()
        try:
            link = await _connect(host, port)
        except (TimeoutError, OSError):
            lost_s += time.time() - t  # refused at once, or a blackhole's whole timeout
            continue
        taken = host
        rec["t_taken"] = time.time()
        try:
            env = environment(caller, port, "tmp-password", [secret])
            rec["hung_up"] = await _dialog(link, env, Channel(caller, 0.0, random.Random(k)))
        except (TimeoutError, OSError) as exc:
            rec["error"] = type(exc).__name__  # the server took the call, then was lost
        break
    rec.update(t_end=time.time(), server=taken, lost_s=round(lost_s, 3))
    if taken is not None:
        ms = str(int((rec["t_end"] - rec["t_start"]) * 1000))
        end = environment(caller, 0, "call-end", [secret, "SUCCESS", ms, DID])
        try:
            await _dialog(await _connect(taken, servers[0][1]), end, None)
        except (TimeoutError, OSError):
            pass
    return rec


def stop_on_sigterm() -> asyncio.Event:
    """Set when the orchestrator sends SIGTERM: the load ends, calls in flight finish."""
    stopped = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    return stopped


async def _load(cfg: dict, seed: bytes, secret: str, out: TextIO) -> None:
    rng = random.Random(cfg["t0"])
    stopped = stop_on_sigterm()
    tasks: set[asyncio.Task] = set()

    async def one(k: int, number: str) -> None:
        rec = await call(k, number, cfg, seed, secret)
        out.write(json.dumps(rec) + "\n")

    k, start = 0, time.time()
    while not stopped.is_set():
        task = asyncio.create_task(one(k, rng.choice(cfg["numbers"])))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        k += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopped.wait(), max(0.0, start + k / cfg["rate"] - time.time()))
    if tasks:
        await asyncio.wait(tasks, timeout=COMMAND_S * 3)


def main(cfg: dict) -> None:
    seed = Path(cfg["seed_file"]).read_bytes()
    secret = Path(cfg["secret_file"]).read_text().strip()
    with open(cfg["out"], "a", buffering=1) as out:  # one line per finished call
        asyncio.run(_load(cfg, seed, secret, out))


if __name__ == "__main__":
    main(json.loads(Path(sys.argv[1]).read_text()))
