#!/usr/bin/env python3
"""moto's server, with DynamoDB requests handled one at a time (see MOTO_NOTES.md, DynamoDB).

moto applies TransactWriteItems by snapshotting the tables and restoring the snapshot when a
condition fails, without a lock: a transaction cancelled on one server thread can roll back an item
another thread wrote meanwhile, which real DynamoDB never does. The run-closing test of the sync
state (tests/state_store.rs) records 26 outcomes at once and, on a loaded machine, lost an `ADD` that
way. Serialising DynamoDB requests gives each request DynamoDB's own atomicity; other services are
untouched.

usage: moto_server.py [moto.server arguments], e.g. moto_server.py -H 127.0.0.1 -p 5000
"""

import sys
import threading

from moto import server
from moto.dynamodb.responses import DynamoHandler

_LOCK = threading.Lock()
_call_action = DynamoHandler.call_action


def _one_at_a_time(self):
    with _LOCK:
        return _call_action(self)


DynamoHandler.call_action = _one_at_a_time

if __name__ == "__main__":
    server.main(sys.argv[1:])
