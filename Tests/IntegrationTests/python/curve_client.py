#!/usr/bin/python3
"""A pyzmq POS client on a CURVE bus, written from docs/protocol.md §1.1: the allowed key is
stored; a stranger's key and a plaintext client get no answer. Prints one line per case."""
import json, sys
import zmq, zmq.auth

keys, endpoint = sys.argv[1], sys.argv[2]
server, _ = zmq.auth.load_certificate(f"{keys}/bus.key")
context = zmq.Context()


def dealer(pair):
    s = context.socket(zmq.DEALER)
    if pair:
        s.curve_publickey, s.curve_secretkey, s.curve_serverkey = pair[0], pair[1], server
    s.setsockopt(zmq.SNDTIMEO, 1000)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    return s


def publish(s, n):
    event = {"v": 1, "eventId": f"py-curve-{n}", "type": "purchase", "occurredAt": "2026-11-23T10:00:00Z", "source": "pos/py",
             "payload": {"storeId": "S1", "terminalId": "T1", "receiptId": str(n), "currency": "NOK",
                         "lines": [{"sku": "A", "category": "c", "quantity": 1, "unitPrice": 100}], "total": 100}}
    try:
        s.send_multipart([b"event", json.dumps(event).encode()])
    except zmq.Again:
        return "no connection"
    if not s.poll(2500):
        return "no answer"
    return s.recv_multipart()[2].decode()


print("allowed:", publish(dealer(zmq.auth.load_certificate(f"{keys}/terminals/cli.key_secret")), 1))
print("stranger:", publish(dealer(zmq.curve_keypair()), 2))
print("plaintext:", publish(dealer(None), 3))
