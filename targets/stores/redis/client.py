#!/usr/bin/env python3
"""temblor's Redis client (client protocol version 1, register workload).

It finds the primary as Redis's Sentinel client spec says, with
python3-redis: ask the Sentinels (this worker's node's first) for the
primary of `mymaster`, connect to it, check with ROLE that it is a primary,
and after any error drop the connection and ask again (with the target
option `discovery=every-op`, ask before every op). Every op goes to that
primary: GET, SET, and a Lua script for cas (Redis runs a script
atomically). With the target option `wait=N`, each write and cas is
followed by WAIT N, and an op fewer than N replicas acknowledged in time is
reported indefinite, since the primary has it but a failover may lose it.
"""
import json
import sys

import redis
from redis.sentinel import Sentinel

SERVICE = "mymaster"

# `#!lua` (Redis 7) declares a script that may write, so that a replica,
# or a primary short of min-replicas-to-write, refuses it before it runs.
CAS = """#!lua
local v = redis.call('GET', KEYS[1])
if v ~= ARGV[1] then return {0, v} end
redis.call('SET', KEYS[1], ARGV[2])
return {1, v}
"""


class Unavailable(Exception):
    """No primary to send the op to: it was not sent."""


def log(text):
    print(text, file=sys.stderr)


class Client:
    def __init__(self, init):
        ports, me = init["ports"], init["node"]
        # This worker's node's Sentinel first, then the others in order.
        nodes = sorted(init["nodes"], key=lambda n: n["name"] != me)
        self.timeout = init["op_timeout_ms"] / 1000
        self.wait = int(init["options"].get("wait", "0"))
        if not 0 <= self.wait < len(nodes):
            raise ValueError(f"wait={self.wait}: there are {len(nodes) - 1} replicas")
        # Sentinels answer from memory: a few hundred ms tells a stopped one.
        self.sentinel = Sentinel(
            [(n["address"], ports["sentinel"]) for n in nodes],
            sentinel_kwargs={"socket_timeout": self.timeout / 8},
        )
        self.every_op = init["options"].get("discovery") == "every-op"
        self.primary, self.address = None, None
        self.last = None  # the primary last logged

    def connect(self):
        if self.primary is not None and not self.every_op:
            return self.primary
        try:
            host, port = self.sentinel.discover_master(SERVICE)
            if (host, port) == self.address:
                return self.primary
            self.drop()
            r = redis.Redis(host, port, socket_timeout=self.timeout / 2,
                            single_connection_client=True)
            role = r.execute_command("ROLE")[0].decode()
        except redis.RedisError as e:
            raise Unavailable(f"no primary: {e}")
        if role != "master":
            r.close()
            raise Unavailable(f"Sentinel named {host}:{port}, which is a {role}")
        if (host, port) != self.last:
            # redis-py moves the Sentinel that answered to the front.
            named_by = self.sentinel.sentinels[0].connection_pool.connection_kwargs["host"]
            log(f"primary: {host}:{port}, named by the Sentinel at {named_by}")
        self.primary, self.address, self.last = r, (host, port), (host, port)
        return r

    def drop(self):
        if self.primary is not None:
            self.primary.close()
            self.primary, self.address = None, None

    def handle(self, f, key, value):
        key = f"register:{key}"
        try:
            r = self.connect()
        except Unavailable as e:
            return {"type": "error", "code": 11, "text": str(e)}
        try:
            if f == "read":
                v = r.get(key)
                return {"type": "ok", "value": None if v is None else int(v)}
            if f == "write":
                r.set(key, value)
            elif f == "cas":
                swapped, found = r.eval(CAS, 1, key, *value)
                if not swapped and found is None:
                    return {"type": "error", "code": 20, "text": "no value"}
                if not swapped:
                    text = f"expected {value[0]}, found {int(found)}"
                    return {"type": "error", "code": 22, "text": text}
            else:
                return {"type": "error", "code": 10, "text": f"no op {f}"}
        except (redis.ResponseError, redis.BusyLoadingError) as e:
            # Redis refused it before running it (READONLY: a replica now;
            # NOREPLICAS: min-replicas-to-write; LOADING).
            self.drop()
            return {"type": "error", "code": 11, "text": str(e)}
        except redis.RedisError as e:
            # Sent, with no answer: it may have happened. A read changes
            # nothing, so a read that got no answer certainly did not.
            self.drop()
            return {"type": "fail" if f == "read" else "info", "error": str(e)}
        return self.replicated(r)

    def replicated(self, r):
        """`ok`, or with `wait`, `info` unless enough replicas have it."""
        if self.wait == 0:
            return {"type": "ok"}
        try:
            acked = r.execute_command("WAIT", self.wait, int(self.timeout * 250))
        except redis.RedisError as e:
            self.drop()
            return {"type": "info", "error": f"written, then WAIT: {e}"}
        if acked < self.wait:
            return {"type": "info", "error": f"{acked} of {self.wait} replicas have it"}
        return {"type": "ok"}


def main():
    client = None
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["type"] == "init":
            try:
                if msg["workload"] != "register":
                    raise ValueError(f"{msg['workload']}: register only")
                client, reply = Client(msg), {"type": "init_ok"}
            except ValueError as e:
                reply = {"type": "error", "code": 12, "text": str(e)}
        elif client is None:
            reply = {"type": "error", "id": msg["id"], "code": 12, "text": "no init"}
        else:
            reply = client.handle(msg["f"], msg["key"], msg["value"])
            reply["id"] = msg["id"]
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
