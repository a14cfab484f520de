"""A pooled connection the server closed is a lost connection, not an internal error.

Found by tests/e2e/test_cluster_netns.py: after a cut-off primary was healed, Sentinel made
it a replica and killed its clients; a FastAGI server's idle pooled connection to it then
failed its health-check PING under uvloop with RuntimeError ("the handler is closed"), and
the caller heard the apology (error_internal). Now the client reconnects and the command
runs. The service runs on uvloop, so does this test.
"""

from __future__ import annotations

import asyncio

import redis as sync_redis
import uvloop

from store.redisconn import connect
from tests.store.servers import RedisServer


async def _after_server_closed(url: str, port: int) -> bytes | None:
    client = connect(url)
    try:
        await client.set("closed-probe", b"1")  # one connection, now idle in the pool
        killer = sync_redis.Redis(port=port, socket_timeout=2)
        try:
            assert killer.client_kill_filter(_type="normal", skipme=True) >= 1
        finally:
            killer.close()
        # What the server's close left in the e2e run: uvloop's transport closed (a reset,
        # or an error while idle) under a connection redis-py still takes for open.
        for conn in client.connection_pool._available_connections:
            conn._writer.transport.abort()
            conn.next_health_check = -1  # as after 30 s idle: the next use PINGs first
        await asyncio.sleep(0.1)
        return await client.get("closed-probe")
    finally:
        await client.aclose()


def test_a_connection_the_server_closed_is_reopened(redis_server: RedisServer) -> None:
    assert uvloop.run(_after_server_closed(redis_server.url, redis_server.port)) == b"1"
