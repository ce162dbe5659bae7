#!/usr/bin/env python3
"""temblor's ZooKeeper client: the register workload over kazoo.

It speaks temblor's client protocol, version 1 (docs/client-protocol.md):
one JSON object per line on stdin, one reply per line on stdout, anything
for the run's log on stderr. temblor starts one of these per worker, bound
to one node. Each register is a znode, /temblor/<key>, holding its value
as text:

- read:  sync() first (option reads=sync), then get(); no znode reads null.
- write: set(); create() the znode when it does not exist yet.
- cas:   get() the value and its version; a different value fails; else
         set(new, version), which ZooKeeper refuses (BadVersion) if anyone
         wrote in between, so a refused cas certainly did not write.

What a reply claims: `ok` when ZooKeeper said so; `fail` only when the op
certainly did not happen (a condition that did not hold; a read, which
changes nothing; error 11 when there was no connection to send it on, so
temblor backs off); `info` when a write was sent and its answer was lost.
"""
import json
import logging
import sys
import time

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError

ROOT = "/temblor"


class NotConnected(Exception):
    """Nothing was sent: the op certainly did not happen."""


def describe(e):
    """An exception for the history: kazoo's often carry no message."""
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


class Client:
    def __init__(self, init):
        node = next(n for n in init["nodes"] if n["name"] == init["node"])
        self.hosts = f"{node['address']}:{init['ports']['client']}"
        self.sync_reads = init["options"]["reads"] == "sync"
        # Give up a little before temblor does, so the reply is ours.
        self.timeout = 0.8 * init["op_timeout_ms"] / 1000
        # Connect in the background, never waiting here (the node may be
        # down): kazoo keeps trying, and reconnects after a drop. Only this
        # node is dialled.
        self.zk = KazooClient(hosts=self.hosts, timeout=10,
                              connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 1})
        self.zk.start_async()

    def call(self, deadline, method, *args, **kwargs):
        """One ZooKeeper request, waiting at most until `deadline`."""
        if not self.zk.connected:
            raise NotConnected(f"not connected to {self.hosts}")
        pending = getattr(self.zk, method + "_async")(*args, **kwargs)
        try:
            return pending.get(timeout=max(deadline - time.monotonic(), 0.001))
        except KazooTimeoutError:
            raise TimeoutError(f"no answer from {self.hosts} in time") from None

    def read(self, path, deadline):
        if self.sync_reads:
            self.call(deadline, "sync", path)
        try:
            data, _stat = self.call(deadline, "get", path)
        except NoNodeError:
            return {"type": "ok", "value": None}
        return {"type": "ok", "value": int(data)}

    def write(self, path, value, deadline):
        data = str(value).encode()
        try:
            self.call(deadline, "set", path, data)
        except NoNodeError:
            try:
                self.call(deadline, "create", path, data, makepath=True)
            except NodeExistsError:  # created meanwhile by another client
                self.call(deadline, "set", path, data)
        return {"type": "ok"}

    def cas(self, path, old, new, deadline):
        try:
            data, stat = self.call(deadline, "get", path)
        except NoNodeError:
            return {"type": "error", "code": 20, "text": "no such register"}
        except NotConnected:
            raise
        except Exception as e:  # nothing was written yet
            return {"type": "fail", "error": f"get before set: {describe(e)}"}
        if int(data) != old:
            return {"type": "error", "code": 22, "text": f"expected {old}, found {int(data)}"}
        try:
            self.call(deadline, "set", path, str(new).encode(), version=stat.version)
        except BadVersionError:
            return {"type": "error", "code": 22, "text": f"version {stat.version} was overwritten"}
        return {"type": "ok"}

    def handle(self, msg):
        f, path = msg["f"], f"{ROOT}/{msg['key']}"
        deadline = time.monotonic() + self.timeout
        try:
            if f == "read":
                return self.read(path, deadline)
            if f == "write":
                return self.write(path, msg["value"], deadline)
            if f == "cas":
                return self.cas(path, *msg["value"], deadline)
            return {"type": "error", "code": 10, "text": f"unknown f {f}"}
        except NotConnected as e:
            return {"type": "error", "code": 11, "text": str(e)}
        except Exception as e:  # a timeout, a lost connection, an expired session...
            # A read changes nothing, so a read without an answer did not happen.
            return {"type": "fail" if f == "read" else "info", "error": describe(e)}

    def close(self):
        self.zk.stop()
        self.zk.close()


def main():
    logging.basicConfig(level=logging.WARNING, format="kazoo %(levelname)s: %(message)s")
    client = None
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["type"] == "init":
            client = Client(msg)
            reply = {"type": "init_ok"}
        else:
            reply = client.handle(msg)
            reply["id"] = msg["id"]
        print(json.dumps(reply), flush=True)
    if client is not None:
        client.close()


if __name__ == "__main__":
    main()
