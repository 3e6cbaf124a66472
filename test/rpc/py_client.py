"""A sockpool RPC client in Python asyncio, written from docs/protocol.md alone (stdlib only).

Usage: python3 py_client.py HOST PORT COUNT
Sends COUNT concurrent requests over one connection, then an error-raising request, a
cancelled request and a ping, and prints one JSON object describing what came back.
"""

import asyncio
import json
import struct
import sys

REQUEST, REPLY, ERROR, CANCEL, PING, PONG = 1, 2, 3, 4, 5, 6


class RemoteError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class RpcClient:
    def __init__(self, reader, writer):
        self._reader = reader
        self._writer = writer
        self._next_id = 0
        self._pending = {}  # id -> future (requests and pings share nothing: pings use their own table)
        self._pings = {}
        self._reader_task = asyncio.create_task(self._read_loop())

    @classmethod
    async def connect(cls, host, port):
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    def _send(self, kind, ident, payload=b""):
        # length (u32 BE) counts the body: kind (u8) + id (u32 BE) + payload
        self._writer.write(struct.pack(">IBI", 5 + len(payload), kind, ident) + payload)

    def _new_id(self, table):
        while True:
            self._next_id = 1 if self._next_id == 0xFFFFFFFF else self._next_id + 1
            if self._next_id not in table:
                return self._next_id

    async def request(self, payload, timeout=None):
        ident = self._new_id(self._pending)
        fut = asyncio.get_running_loop().create_future()
        self._pending[ident] = fut
        self._send(REQUEST, ident, payload)
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            # give up: send a cancel and forget the id; a late reply is ignored
            self._pending.pop(ident, None)
            self._send(CANCEL, ident)
            raise

    async def ping(self, payload=b""):
        ident = self._new_id(self._pings)
        fut = asyncio.get_running_loop().create_future()
        self._pings[ident] = fut
        self._send(PING, ident, payload)
        return await fut

    async def _read_loop(self):
        try:
            while True:
                head = await self._reader.readexactly(4)
                (length,) = struct.unpack(">I", head)
                if length < 5:
                    raise ValueError(f"bad frame: length {length} < 5")
                body = await self._reader.readexactly(length)
                kind, ident = struct.unpack(">BI", body[:5])
                payload = body[5:]
                if kind == REPLY:
                    fut = self._pending.pop(ident, None)
                    if fut is not None and not fut.done():
                        fut.set_result(payload)
                elif kind == ERROR:
                    (n,) = struct.unpack(">H", payload[:2])
                    code = payload[2 : 2 + n].decode("utf-8")
                    message = payload[2 + n :].decode("utf-8")
                    fut = self._pending.pop(ident, None)
                    if fut is not None and not fut.done():
                        fut.set_exception(RemoteError(code, message))
                elif kind == PING:
                    self._send(PONG, ident, payload)
                elif kind == PONG:
                    fut = self._pings.pop(ident, None)
                    if fut is not None and not fut.done():
                        fut.set_result(payload)
                else:
                    raise ValueError(f"bad frame: unexpected kind {kind}")
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as err:
            for fut in list(self._pending.values()) + list(self._pings.values()):
                if not fut.done():
                    fut.set_exception(ConnectionError(f"connection lost: {err}"))
            self._pending.clear()
            self._pings.clear()

    async def close(self):
        self._writer.write_eof()  # half-close: the server answers what it read, then closes
        await self._reader_task
        self._writer.close()
        await self._writer.wait_closed()


async def main(host, port, count):
    client = await RpcClient.connect(host, port)
    payloads = [f"py-{i}".encode() for i in range(count)]
    replies = await asyncio.gather(*(client.request(p) for p in payloads))
    matched = sum(1 for p, r in zip(payloads, replies) if r == b"echo:" + p)
    error = None
    try:
        await client.request(b"fail")
    except RemoteError as err:
        error = {"code": err.code, "message": err.message}
    cancelled = False
    try:
        await client.request(b"hang", timeout=0.05)
    except asyncio.TimeoutError:
        cancelled = True
    pong = await client.ping(b"are you there")
    after = await client.request(b"after")
    await client.close()
    print(json.dumps({
        "count": count,
        "matched": matched,
        "error": error,
        "cancelled": cancelled,
        "pong": pong.decode(),
        "after": after.decode(),
    }))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
