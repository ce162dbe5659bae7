#!/usr/bin/env python3
"""temblor's PostgreSQL client: the list-append workload over SQL tables.

Speaks temblor's client protocol, version 1 (docs/client-protocol.md): one
JSON request a line on stdin, one reply a line on stdout. Whichever node
temblor binds it to, it sends every transaction to the primary, the first
node. The tables are Jepsen's (jepsen.stolon.append): keys spread over
txn0..txn2 by key mod 3, each list a row `(id, sk, val)` with the elements
as comma-separated text. An append is an upsert that concatenates; a read
selects the row by its primary key `id` or, half the time, by `sk`, an
unindexed copy of the key (a table scan, which SERIALIZABLE guards with
other predicate locks than an index lookup).

Errors: a serialization failure or a deadlock (SQLSTATE 40001, 40P01) is
error 30, txn-conflict: PostgreSQL rolled the transaction back. Any other
failure before COMMIT is definite too, since PostgreSQL never commits
without it: 11 when the connection could not be made or broke, 14 when
the server refused a statement. A failure during COMMIT is `info`: the
transaction may have committed.
"""
import json
import random
import sys

import psycopg2
from psycopg2 import errorcodes, extensions

TABLES = 3
LEVELS = {
    "serializable": extensions.ISOLATION_LEVEL_SERIALIZABLE,
    "repeatable-read": extensions.ISOLATION_LEVEL_REPEATABLE_READ,
    "read-committed": extensions.ISOLATION_LEVEL_READ_COMMITTED,
}
CONFLICTS = {errorcodes.SERIALIZATION_FAILURE, errorcodes.DEADLOCK_DETECTED}


def log(text):
    sys.stderr.write(text.strip() + "\n")


def error(code, text):
    return {"type": "error", "code": code, "text": text.strip()}


def micro_op(cur, f, k, v):
    table = f"txn{k % TABLES}"
    if f == "append":
        cur.execute(
            f"INSERT INTO {table} AS t (id, sk, val) VALUES (%s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET val = t.val || ',' || excluded.val",
            (k, k, str(v)),
        )
        return [f, k, v]
    column = random.choice(("id", "sk"))
    cur.execute(f"SELECT val FROM {table} WHERE {column} = %s", (k,))
    row = cur.fetchone()
    return [f, k, [int(e) for e in row[0].split(",")] if row else []]


class Primary:
    """A connection to the primary, made on the first request and again
    after it broke: never in init, when the primary may be down."""

    def __init__(self, init):
        primary = init["nodes"][0]["address"]
        options = init["options"]
        self.isolation = LEVELS[options["isolation"]]
        self.dsn = {
            "host": primary,
            "port": init["ports"]["postgres"],
            "user": "postgres",
            "password": options["password"],
            "dbname": "postgres",
            "application_name": f"temblor {init['node']}",
            # libpq's least is 2 s; leave time to say so before temblor
            # gives up on the op.
            "connect_timeout": max(2, init["op_timeout_ms"] // 2000),
        }
        self.conn = None

    def connection(self):
        if self.conn is None or self.conn.closed:
            self.conn = psycopg2.connect(**self.dsn)
            self.conn.set_session(isolation_level=self.isolation)
        return self.conn

    def txn(self, micro_ops):
        try:
            conn = self.connection()
        except psycopg2.Error as e:
            return error(11, f"cannot connect to the primary: {e}")
        try:
            with conn.cursor() as cur:
                done = [micro_op(cur, *m) for m in micro_ops]
        except psycopg2.Error as e:
            return self.rolled_back(e)
        try:
            conn.commit()
        except psycopg2.Error as e:
            if e.pgcode in CONFLICTS:
                return error(30, str(e))
            log(f"COMMIT failed, the transaction may have committed: {e}")
            return {"type": "info", "error": f"during COMMIT: {e}".strip()}
        return {"type": "ok", "value": done}

    def rolled_back(self, e):
        """A failure before COMMIT: nothing was committed."""
        try:
            self.conn.rollback()
        except psycopg2.Error:
            pass
        if self.conn.closed:
            log(f"connection lost: {e}")
            return error(11, f"connection lost before COMMIT: {e}")
        if e.pgcode in CONFLICTS:
            return error(30, str(e))
        log(f"statement failed ({e.pgcode}): {e}")
        return error(14, f"{e.pgcode}: {e}")


def answer(primary, msg):
    if primary is None:
        return error(12, "a request before init")
    if msg.get("f") != "txn" or not isinstance(msg.get("value"), list):
        return error(10, f"not a list-append txn: {msg.get('f')!r}")
    return primary.txn(msg["value"])


def start(msg):
    if msg.get("workload") != "list-append":
        return None, error(12, f"only list-append, not {msg.get('workload')!r}")
    if msg["options"].get("isolation") not in LEVELS:
        return None, error(12, f"unknown isolation {msg['options'].get('isolation')!r}")
    return Primary(msg), {"type": "init_ok"}


def main():
    primary = None
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["type"] == "init":
            primary, reply = start(msg)
        else:
            reply = answer(primary, msg)
            reply["id"] = msg["id"]
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
