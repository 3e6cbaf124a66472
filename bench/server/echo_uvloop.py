"""The uvloop peer of bench/server: an asyncio Protocol echo on uvloop's event loop.

Each data_received writes the bytes straight back through the transport, with no flow
control, like the raw `net` server. uvloop sets TCP_NODELAY on TCP transports. Run it with
Debian's /usr/bin/python3 (python3-uvloop), which is where uvloop is installed.

The peer contract of bench/server (bench/server/peers.ts): listens on 127.0.0.1, port 0,
prints the port on the first line of stdout, and exits when stdin closes.

    /usr/bin/python3 echo_uvloop.py
"""

import asyncio
import os
import resource

import uvloop


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def serve():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    stdin_closed = loop.create_future()

    def on_stdin():
        if not os.read(0, 4096):
            loop.remove_reader(0)
            stdin_closed.set_result(None)

    loop.add_reader(0, on_stdin)
    await stdin_closed


if __name__ == "__main__":
    uvloop.install()
    asyncio.run(serve())
