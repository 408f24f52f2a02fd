#!/usr/bin/python3
"""Protocol checks against a running loyalty bus, using pos_client.py (built from
docs/protocol.md alone).

    /usr/bin/python3 test_protocol.py --ingest tcp://127.0.0.1:5601 --replay tcp://127.0.0.1:5603

Prints 'PASS name' / 'FAIL name: why' per check and finally 'N passed, M failed'.
Exit status 0 only if every check passed. Every receive is polled with a timeout and a hard
alarm ends the run well within 60 s.
"""

import argparse
import json
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pos_client import (PosClient, ProtocolError, purchase_envelope,  # noqa: E402
                        return_envelope, serialize, survey_envelope)

HARD_LIMIT_S = 55
ATTEMPT_MS = 1500
ATTEMPTS = 3


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.names = []

    def run(self, name, fn):
        self.names.append(name)
        try:
            why = fn()
        except Exception as e:  # a check that raises has failed, the rest still run
            why = "%s: %s" % (type(e).__name__, e)
        if why:
            self.failed += 1
            print("FAIL %s: %s" % (name, why), flush=True)
        else:
            self.passed += 1
            print("PASS %s" % name, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ingest", default="tcp://127.0.0.1:5601")
    ap.add_argument("--replay", default="tcp://127.0.0.1:5603")
    args = ap.parse_args()

    checks = Checks()
    total_checks = 8

    def on_alarm(signum, frame):
        done = checks.passed + checks.failed
        print("FAIL timeout: the run exceeded %d s after %d checks" % (HARD_LIMIT_S, done), flush=True)
        print("%d passed, %d failed" % (checks.passed, total_checks - checks.passed), flush=True)
        os._exit(1)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(HARD_LIMIT_S)

    client = PosClient(args.ingest, args.replay)
    run = "%d%04d" % (int(time.time()), random.randrange(10000))   # unique per run
    store, terminal = "PYT", "T%s" % run
    customer = "C-py-%s" % run
    state = {}

    # 1. a valid purchase is stored with seq > 0
    def purchase_stored():
        env = purchase_envelope(store, terminal, "R1", "NOK", customer_id=customer, discount=500,
                                lines=[{"sku": "COF-001", "category": "coffee", "quantity": 2,
                                        "unitPrice": 3900, "margin": 2100},
                                       {"sku": "BAK-001", "category": "bakery", "quantity": 1,
                                        "unitPrice": 2500}])
        body = serialize(env)
        state["purchase_id"] = env["eventId"]
        state["purchase_bytes"] = body
        ack = client.publish(body, env["eventId"], ATTEMPT_MS, ATTEMPTS)
        if ack is None:
            return "no ack"
        if ack.status != "stored":
            return "status %s (%s: %s)" % (ack.status, ack.code, ack.message)
        if ack.seq <= 0:
            return "seq %d" % ack.seq
        if ack.code or ack.message:
            return "stored ack with code/message %r %r" % (ack.code, ack.message)
        state["purchase_seq"] = ack.seq
    checks.run("purchase_stored", purchase_stored)

    # 2. the same bytes again: duplicate with the same seq
    def purchase_duplicate():
        if "purchase_seq" not in state:
            return "no stored purchase"
        ack = client.publish(state["purchase_bytes"], state["purchase_id"], ATTEMPT_MS, ATTEMPTS)
        if ack is None:
            return "no ack"
        if ack.status != "duplicate":
            return "status %s (%s: %s)" % (ack.status, ack.code, ack.message)
        if ack.seq != state["purchase_seq"]:
            return "seq %d, expected %d" % (ack.seq, state["purchase_seq"])
    checks.run("purchase_duplicate", purchase_duplicate)

    # 3. a negative quantity is rejected as invalid_value naming the field
    def negative_quantity_rejected():
        # unitPrice 0 keeps the total consistent (0), so the quantity is the only problem.
        env = purchase_envelope(store, terminal, "R-bad", "NOK", total=0,
                                lines=[{"sku": "COF-001", "category": "coffee", "quantity": -2,
                                        "unitPrice": 0}])
        ack = client.publish(serialize(env), env["eventId"], ATTEMPT_MS, ATTEMPTS)
        if ack is None:
            return "no ack"
        if ack.status != "rejected":
            return "status %s" % ack.status
        if ack.code != "invalid_value":
            return "code %r, expected invalid_value (%s)" % (ack.code, ack.message)
        if ack.seq != 0:
            return "seq %d, expected 0" % ack.seq
        if not ack.message.startswith("payload.lines[0].quantity"):
            return "message does not name payload.lines[0].quantity: %r" % ack.message
    checks.run("negative_quantity_rejected", negative_quantity_rejected)

    # 4. malformed JSON is rejected with a reason (empty eventId frame)
    def malformed_json_rejected():
        ack = client.publish(b'{"v":1,"eventId":"x",', "", ATTEMPT_MS, ATTEMPTS)
        if ack is None:
            return "no ack (with empty eventId)"
        if ack.status != "rejected":
            return "status %s" % ack.status
        if ack.code != "malformed_json":
            return "code %r, expected malformed_json" % ack.code
        if not ack.message.startswith("malformed JSON at byte"):
            return "message %r" % ack.message
    checks.run("malformed_json_rejected", malformed_json_rejected)

    # 5. an unknown command gets error / unknown_command
    def unknown_command():
        client.send_raw([b"hello"])
        err = client.expect_error(2000)
        if err is None:
            return "no error reply"
        if err.code != "unknown_command":
            return "code %r: %s" % (err.code, err.message)
        if "hello" not in err.message:
            return "message does not echo the command: %r" % err.message
    checks.run("unknown_command", unknown_command)

    # 6. a return referencing the purchase, and a survey, are stored
    def return_and_survey_stored():
        if "purchase_id" not in state:
            return "no purchase"
        ret = return_envelope(store, terminal, "R2", state["purchase_id"], "NOK",
                              customer_id=customer,
                              lines=[{"sku": "COF-001", "quantity": 1, "unitPrice": 3900}])
        _, ack = client.publish_envelope(ret, attempt_timeout_ms=ATTEMPT_MS, max_attempts=ATTEMPTS)
        if ack is None:
            return "return: no ack"
        if ack.status != "stored" or ack.seq <= 0:
            return "return: %s seq %d (%s: %s)" % (ack.status, ack.seq, ack.code, ack.message)
        sur = survey_envelope("survey/%s/%s" % (store, run), store, 4, customer_id=customer,
                              drivers={"expectations": 5, "valueForMoney": 3, "serviceLevel": 2},
                              comment="Long queue at the till — øre.",
                              related_event_id=state["purchase_id"])
        _, ack2 = client.publish_envelope(sur, attempt_timeout_ms=ATTEMPT_MS, max_attempts=ATTEMPTS)
        if ack2 is None:
            return "survey: no ack"
        if ack2.status != "stored" or ack2.seq <= 0:
            return "survey: %s seq %d (%s: %s)" % (ack2.status, ack2.seq, ack2.code, ack2.message)
        if not (ack2.seq > ack.seq > state.get("purchase_seq", 0)):
            return "seqs not increasing: purchase %s, return %d, survey %d" % (
                state.get("purchase_seq"), ack.seq, ack2.seq)
    checks.run("return_and_survey_stored", return_and_survey_stored)

    # 7. replay after (purchase seq - 1) starts with the purchase, seq inside the envelope
    def replay_purchase():
        if "purchase_seq" not in state:
            return "no stored purchase"
        seq = state["purchase_seq"]
        batch = client.replay(seq - 1, limit=10)
        if batch is None:
            return "no batch"
        if not batch.events:
            return "empty batch (scannedThrough %d, head %d)" % (batch.scanned_through, batch.head)
        ev = batch.events[0]
        if ev.topic != "purchase" or ev.seq != seq:
            return "first event is %s seq %d, expected purchase seq %d" % (ev.topic, ev.seq, seq)
        prefix = b'{"seq":%d,' % seq
        if not ev.envelope.startswith(prefix):
            return "envelope does not start with %r: %r" % (prefix, ev.envelope[:40])
        if ev.envelope[len(prefix):] != state["purchase_bytes"][1:]:
            return "envelope is not the producer's bytes with seq inserted"
        doc = ev.json()
        if doc.get("seq") != seq or doc.get("eventId") != state["purchase_id"]:
            return "envelope seq/eventId %r/%r" % (doc.get("seq"), doc.get("eventId"))
        if batch.head < seq or batch.scanned_through < seq:
            return "head %d / scannedThrough %d below seq %d" % (batch.head, batch.scanned_through, seq)
    checks.run("replay_purchase", replay_purchase)

    # 8. a request for a service nobody offers: unavailable
    def service_unavailable():
        service = "nobody-%s.offers" % run
        try:
            reply = client.request(service, b'{"customerId":"%s"}' % customer.encode(), timeout_ms=1000)
        except ProtocolError as e:
            return "framing error: %s" % e
        if reply is None:
            return "no reply"
        if reply.status != "unavailable":
            return "status %s: %s" % (reply.status, reply.text)
        if not reply.text.startswith("no plugin offering '%s' is running" % service):
            return "body %r" % reply.text
    checks.run("service_unavailable", service_unavailable)

    client.close()
    signal.alarm(0)
    print("%d passed, %d failed" % (checks.passed, checks.failed), flush=True)
    return 0 if checks.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
