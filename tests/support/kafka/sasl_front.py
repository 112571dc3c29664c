"""A SASL listener in front of a Kafka-protocol broker, for kafkascope's SASL tests.

Tansu 0.6 (the broker the tests run) authenticates SCRAM only against users it cannot store
(see tests/kafka_sasl.rs), so this front does the SASL part the way a Kafka broker does, and
relays every other byte to the broker once the client is authenticated:

  ApiVersions           relayed to the broker (which lists SaslHandshake and SaslAuthenticate)
  SaslHandshake v0-v1   UNSUPPORTED_SASL_MECHANISM (33) with the enabled list, unless enabled
  SaslAuthenticate v0-2 SCRAM-SHA-256/512 verified by `scramp` (an independent implementation of
                        RFC 5802/7677; only salt, StoredKey and ServerKey are kept, as Kafka
                        does), PLAIN compared with the password; a failure is
                        SASL_AUTHENTICATION_FAILED (58) and the connection is closed
  anything else first   the connection is closed (as Kafka does)

  sasl_front.py LISTEN_PORT BROKER_HOST:PORT MECHANISMS USER PASSWORD
    MECHANISMS: comma-separated, e.g. SCRAM-SHA-256,SCRAM-SHA-512,PLAIN
Prints "ready" once listening. Environment: SASL_FRONT_LIFETIME_MS, the session lifetime stated
in SaslAuthenticate v1+ (default one hour); SASL_FRONT_LOG, a file that gets one line per login.
"""
import asyncio
import os
import struct
import sys

from scramp import ScramException, ScramMechanism

LISTEN, BACKEND, MECHS, USER, PASSWORD = sys.argv[1:6]
ENABLED = MECHS.split(",")
ITERATIONS = 8192
LIFETIME_MS = int(os.environ.get("SASL_FRONT_LIFETIME_MS", "3600000"))
LOGINS = os.environ.get("SASL_FRONT_LOG")
# What a broker keeps per user and mechanism: salt, StoredKey, ServerKey, iterations.
STORED = {
    m: ScramMechanism(m).make_auth_info(PASSWORD, iteration_count=ITERATIONS)
    for m in ENABLED
    if m.startswith("SCRAM-")
}


async def read_frame(reader):
    n = struct.unpack(">i", await reader.readexactly(4))[0]
    return await reader.readexactly(n)


def uvarint(b, i):
    shift = value = 0
    while True:
        c = b[i]
        i += 1
        value |= (c & 0x7F) << shift
        if not c & 0x80:
            return value, i
        shift += 7


def put_uvarint(v):
    out = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        if v:
            out.append(c | 0x80)
        else:
            out.append(c)
            return bytes(out)


def header(frame):
    """api key, version, correlation id, and where the body starts (header v1 or v2)."""
    key, version, corr = struct.unpack(">hhi", frame[:8])
    n = struct.unpack(">h", frame[8:10])[0]
    i = 10 + max(n, 0)
    flexible = (key == 36 and version >= 2)
    if flexible:
        tags, i = uvarint(frame, i)
        for _ in range(tags):
            _, i = uvarint(frame, i)
            size, i = uvarint(frame, i)
            i += size
    return key, version, corr, i, flexible


def handshake_response(corr, mechanism):
    ok = mechanism in ENABLED
    body = struct.pack(">ih", corr, 0 if ok else 33) + struct.pack(">i", len(ENABLED))
    for m in ENABLED:
        body += struct.pack(">h", len(m)) + m.encode()
    return ok, body


def auth_bytes(frame, i, flexible):
    if flexible:
        n, i = uvarint(frame, i)
        return frame[i:i + n - 1]
    n = struct.unpack(">i", frame[i:i + 4])[0]
    return frame[i + 4:i + 4 + n]


def auth_response(corr, version, flexible, error, message, data, lifetime_ms=LIFETIME_MS):
    if flexible:
        body = struct.pack(">i", corr) + b"\x00" + struct.pack(">h", error)
        body += b"\x00" if message is None else put_uvarint(len(message) + 1) + message.encode()
        body += put_uvarint(len(data) + 1) + data
        body += struct.pack(">q", lifetime_ms) + b"\x00"
        return body
    body = struct.pack(">ih", corr, error)
    body += struct.pack(">h", -1) if message is None else struct.pack(">h", len(message)) + message.encode()
    body += struct.pack(">i", len(data)) + data
    if version >= 1:
        body += struct.pack(">q", lifetime_ms)
    return body


async def send(writer, body):
    writer.write(struct.pack(">i", len(body)) + body)
    await writer.drain()


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


def failed(mechanism):
    return "Authentication failed during authentication due to invalid credentials with SASL mechanism " + mechanism


async def client(creader, cwriter):
    host, port = BACKEND.rsplit(":", 1)
    breader, bwriter = await asyncio.open_connection(host, int(port))
    mechanism, scram = None, None
    try:
        while True:
            frame = await read_frame(creader)
            key, version, corr, i, flexible = header(frame)
            if key == 18:
                await send(bwriter, frame)
                await send(cwriter, await read_frame(breader))
            elif key == 17:
                n = struct.unpack(">h", frame[i:i + 2])[0]
                requested = frame[i + 2:i + 2 + n].decode()
                ok, body = handshake_response(corr, requested)
                await send(cwriter, body)
                if not ok:
                    return
                mechanism = requested
            elif key == 36 and mechanism:
                data = auth_bytes(frame, i, flexible)
                if mechanism == "PLAIN":
                    parts = data.split(b"\x00")
                    if len(parts) == 3 and parts[1].decode() == USER and parts[2].decode() == PASSWORD:
                        await send(cwriter, auth_response(corr, version, flexible, 0, None, b""))
                        break
                    await send(cwriter, auth_response(corr, version, flexible, 58, failed(mechanism), b""))
                    return
                if scram is None:
                    def lookup(user):
                        if user != USER:
                            raise ScramException("unknown user")
                        return STORED[mechanism]
                    scram = ScramMechanism(mechanism).make_server(lookup)
                    try:
                        scram.set_client_first(data.decode())
                    except ScramException:
                        await send(cwriter, auth_response(corr, version, flexible, 58, failed(mechanism), b""))
                        return
                    await send(cwriter, auth_response(corr, version, flexible, 0, None, scram.get_server_first().encode()))
                else:
                    try:
                        scram.set_client_final(data.decode())
                    except ScramException:
                        await send(cwriter, auth_response(corr, version, flexible, 58, failed(mechanism), b""))
                        return
                    await send(cwriter, auth_response(corr, version, flexible, 0, None, scram.get_server_final().encode()))
                    break
            else:
                return
        # Authenticated: the rest of the conversation is the broker's.
        if LOGINS:
            with open(LOGINS, "a") as f:
                f.write("login %s\n" % mechanism)
        await asyncio.gather(pipe(creader, bwriter), pipe(breader, cwriter))
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        cwriter.close()
        bwriter.close()


async def main():
    server = await asyncio.start_server(client, "127.0.0.1", int(LISTEN))
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
