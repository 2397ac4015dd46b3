"""A WebSocket producer for /v1/stream written against Python's `websockets`, not the Node client.

Usage: stream_client.py URL TOKEN < frames.json

stdin holds a JSON array of frames (each frame is sent as one text message, as is). The script
sends them all, reads one ack per frame, and prints one JSON object on stdout:
  {"websockets": "<version>", "acks": [...]}            after a completed exchange
  {"websockets": "<version>", "refused": <HTTP status>}  when the upgrade is refused
  {"websockets": "<version>", "closed": <close code>, "acks": [...]}  when the server closes first
"""

import asyncio
import inspect
import json
import sys

import websockets


def header_kwarg(headers):
    # websockets >= 14 (the new asyncio client) takes `additional_headers`; older releases,
    # such as Debian 12's 10.4, take `extra_headers`.
    params = inspect.signature(websockets.connect).parameters
    if "additional_headers" in params:
        return {"additional_headers": headers}
    return {"extra_headers": headers}


def refused_status(err):
    response = getattr(err, "response", None)  # websockets >= 14: InvalidStatus
    if response is not None:
        return response.status_code
    return getattr(err, "status_code", None)  # older: InvalidStatusCode


async def run(url, token, frames):
    out = {"websockets": websockets.__version__}
    try:
        ws = await websockets.connect(url, **header_kwarg({"Authorization": "Bearer " + token}), open_timeout=10)
    except Exception as err:  # noqa: BLE001 - the refusal is the result
        status = refused_status(err)
        if status is None:
            raise
        out["refused"] = status
        return out
    acks = []
    try:
        for frame in frames:
            await ws.send(json.dumps(frame))
        for _ in frames:
            acks.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=10)))
    except websockets.exceptions.ConnectionClosed as closed:
        rcvd = getattr(closed, "rcvd", None)
        out["closed"] = rcvd.code if rcvd is not None else getattr(closed, "code", 1006)
    finally:
        await ws.close()
    out["acks"] = acks
    return out


def main():
    url, token = sys.argv[1], sys.argv[2]
    frames = json.load(sys.stdin)
    print(json.dumps(asyncio.run(run(url, token, frames))))


if __name__ == "__main__":
    main()
