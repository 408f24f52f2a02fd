"""A small POS client for the loyalty bus, written from docs/protocol.md (wire protocol v1) alone.

Python 3 + pyzmq. Every receive is bounded by a poll timeout, so no call can hang.

    client = PosClient("tcp://127.0.0.1:5601", "tcp://127.0.0.1:5603")
    body = serialize(purchase_envelope(...))            # serialize ONCE, keep the bytes
    ack = client.publish(body, event_id)                # resend the SAME bytes on retry
    reply = client.request("points.balance", b'{"customerId":"C1"}')
    batch = client.replay(after=0, limit=100)
    client.close()
"""

import datetime
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import List, Optional

import zmq

PROTOCOL_VERSION = 1


# --------------------------------------------------------------------------- results

@dataclass
class Ack:
    """The 6-frame ack (section 6.1)."""
    event_id: str
    status: str          # stored | duplicate | rejected | unavailable
    seq: int             # journal position for stored/duplicate (and conflict), else 0
    code: str            # empty for stored/duplicate
    message: str         # empty for stored/duplicate


@dataclass
class Reply:
    """The 4-frame service reply (section 10.2)."""
    request_id: str
    status: str          # ok | error | unavailable | timeout
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class BusError:
    """The 3-frame framing-level error (sections 7 and 9.4)."""
    code: str            # bad_frames | unknown_command | storage_failed
    message: str


@dataclass
class StoredEvent:
    topic: str
    seq: int
    envelope: bytes      # stored envelope with "seq" inserted as the first key

    def json(self) -> dict:
        return json.loads(self.envelope.decode("utf-8"))


@dataclass
class Batch:
    """The replay answer (section 9.2)."""
    scanned_through: int
    head: int
    events: List[StoredEvent] = field(default_factory=list)


class ProtocolError(Exception):
    pass


# --------------------------------------------------------------------------- envelopes

def now_rfc3339() -> str:
    """UTC, milliseconds, 'Z' (section 5.3), e.g. 2026-11-23T10:15:00.000Z."""
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def serialize(envelope: dict) -> bytes:
    """Compact UTF-8 JSON, no trailing newline. Call once per event and keep the bytes."""
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def envelope(event_id: str, type_: str, source: str, payload: dict,
             occurred_at: Optional[str] = None) -> dict:
    """An envelope (section 3) in the field order v, eventId, type, occurredAt, source, payload.
    No 'seq': the bus assigns it."""
    return {
        "v": PROTOCOL_VERSION,
        "eventId": event_id,
        "type": type_,
        "occurredAt": occurred_at or now_rfc3339(),
        "source": source,
        "payload": payload,
    }


def purchase_envelope(store_id: str, terminal_id: str, receipt_id: str, currency: str,
                      lines: List[dict], customer_id: Optional[str] = None,
                      discount: int = 0, total: Optional[int] = None,
                      event_id: Optional[str] = None, occurred_at: Optional[str] = None) -> dict:
    """A purchase (section 4.1). lines: dicts with sku, category, quantity, unitPrice[, margin].
    total defaults to sum(quantity * unitPrice) - discount. eventId defaults to the POS
    convention <storeId>-<terminalId>-<receiptId>."""
    payload = {"storeId": store_id, "terminalId": terminal_id, "receiptId": receipt_id}
    if customer_id is not None:
        payload["customerId"] = customer_id
    payload["currency"] = currency
    payload["lines"] = lines
    if discount:
        payload["discount"] = discount
    if total is None:
        total = sum(l["quantity"] * l["unitPrice"] for l in lines) - discount
    payload["total"] = total
    return envelope(event_id or "%s-%s-%s" % (store_id, terminal_id, receipt_id), "purchase",
                    "pos/%s/%s" % (store_id, terminal_id), payload, occurred_at)


def return_envelope(store_id: str, terminal_id: str, receipt_id: str, original_event_id: str,
                    currency: str, lines: List[dict], customer_id: Optional[str] = None,
                    total: Optional[int] = None, event_id: Optional[str] = None,
                    occurred_at: Optional[str] = None) -> dict:
    """A return (section 4.2). lines: dicts with sku, quantity, unitPrice (no category/margin)."""
    payload = {"storeId": store_id, "terminalId": terminal_id, "receiptId": receipt_id}
    if customer_id is not None:
        payload["customerId"] = customer_id
    payload["originalEventId"] = original_event_id
    payload["currency"] = currency
    payload["lines"] = lines
    payload["total"] = sum(l["quantity"] * l["unitPrice"] for l in lines) if total is None else total
    return envelope(event_id or "%s-%s-%s" % (store_id, terminal_id, receipt_id), "return",
                    "pos/%s/%s" % (store_id, terminal_id), payload, occurred_at)


def survey_envelope(event_id: str, store_id: str, nps: int, source: str = "survey-app",
                    customer_id: Optional[str] = None, drivers: Optional[dict] = None,
                    comment: Optional[str] = None, related_event_id: Optional[str] = None,
                    occurred_at: Optional[str] = None) -> dict:
    """A survey (section 4.3)."""
    payload = {"storeId": store_id}
    if customer_id is not None:
        payload["customerId"] = customer_id
    payload["nps"] = nps
    if drivers is not None:
        payload["drivers"] = drivers
    if comment is not None:
        payload["comment"] = comment
    if related_event_id is not None:
        payload["relatedEventId"] = related_event_id
    return envelope(event_id, "survey", source, payload, occurred_at)


# --------------------------------------------------------------------------- client

class PosClient:
    """DEALER to ingest (events, service requests) and DEALER to replay (section 2)."""

    def __init__(self, ingest: str, replay: Optional[str] = None,
                 context: Optional[zmq.Context] = None):
        self._ctx = context or zmq.Context.instance()
        self._ingest = self._ctx.socket(zmq.DEALER)
        self._ingest.setsockopt(zmq.LINGER, 0)
        self._ingest.connect(ingest)
        self._replay = None
        if replay:
            self._replay = self._ctx.socket(zmq.DEALER)
            self._replay.setsockopt(zmq.LINGER, 0)
            self._replay.connect(replay)
        self._request_ids = itertools.count(1)

    def close(self):
        self._ingest.close()
        if self._replay is not None:
            self._replay.close()

    # ---- low level

    def send_raw(self, frames: List[bytes]):
        """Send arbitrary frames to ingest (for tests of malformed messages)."""
        self._ingest.send_multipart(frames)

    def recv_raw(self, timeout_ms: int, sock=None) -> Optional[List[bytes]]:
        sock = sock or self._ingest
        if not sock.poll(timeout_ms):
            return None
        return sock.recv_multipart()

    def _recv_until(self, deadline: float, accept, sock=None):
        """Receive until accept(frames) returns non-None, or the deadline passes (-> None).
        Messages that accept() does not want are ignored (section 2: be tolerant)."""
        while True:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                return None
            frames = self.recv_raw(left_ms, sock)
            if frames is None:
                return None
            result = accept(frames)
            if result is not None:
                return result

    # ---- events (section 6)

    @staticmethod
    def _parse_ack(frames: List[bytes]) -> Optional[Ack]:
        if len(frames) != 6 or frames[0] != b"ack":
            return None
        _, eid, status, seq, code, message = frames
        return Ack(eid.decode("utf-8", "replace"), status.decode("ascii", "replace"),
                   int(seq) if seq.isdigit() else 0,
                   code.decode("ascii", "replace"), message.decode("utf-8", "replace"))

    def publish(self, envelope_bytes: bytes, event_id: Optional[str],
                attempt_timeout_ms: int = 1000, max_attempts: int = 10,
                unavailable_pause_s: float = 0.3) -> Optional[Ack]:
        """Send one event and return its first definitive ack (stored / duplicate / rejected).

        Always resends the SAME bytes: on no ack within attempt_timeout_ms, and after a short
        pause on 'unavailable' (section 6.3). Returns None when every attempt failed: the caller
        must keep the bytes and send them again later.

        event_id: the eventId in the envelope; the empty string when the envelope cannot be read
        (not JSON, ...), in which case the bus answers with an empty eventId frame (section 6.1)."""
        want = event_id or ""

        def accept(frames):
            ack = self._parse_ack(frames)
            if ack is None or ack.event_id != want:
                return None            # an error, or a late ack of something else: ignore
            return ack

        for _ in range(max_attempts):
            self._ingest.send_multipart([b"event", envelope_bytes])
            ack = self._recv_until(time.monotonic() + attempt_timeout_ms / 1000.0, accept)
            if ack is None:
                continue               # no ack in time: resend the same bytes
            if ack.status == "unavailable":
                time.sleep(unavailable_pause_s)
                continue
            return ack
        return None

    def publish_envelope(self, env: dict, **kw) -> (bytes, Optional[Ack]):
        """Serialize once and publish; returns (the bytes, the ack)."""
        body = serialize(env)
        return body, self.publish(body, env["eventId"], **kw)

    # ---- framing-level errors (section 7)

    def expect_error(self, timeout_ms: int = 2000) -> Optional[BusError]:
        """Wait for an 'error' message on ingest (ignores acks/replies meanwhile)."""
        def accept(frames):
            if len(frames) == 3 and frames[0] == b"error":
                return BusError(frames[1].decode("ascii", "replace"),
                                frames[2].decode("utf-8", "replace"))
            return None
        return self._recv_until(time.monotonic() + timeout_ms / 1000.0, accept)

    # ---- service requests (section 10)

    def request(self, service: str, body: bytes = b"", timeout_ms: Optional[int] = None,
                request_id: Optional[str] = None) -> Optional[Reply]:
        """One service request; waits timeout (default 3000 ms) + 500 ms for the reply.
        Returns None if no reply came (bus down or unreachable). Does not retry: the bus does not
        deduplicate requests, only the caller knows whether a request is safe to repeat."""
        rid = request_id or "pos-%d-%d" % (int(time.time() * 1000), next(self._request_ids))
        frames = [b"request", service.encode("ascii"), rid.encode("utf-8"), body]
        if timeout_ms is not None:
            frames.append(str(timeout_ms).encode("ascii"))
        self._ingest.send_multipart(frames)
        wait_s = ((timeout_ms if timeout_ms is not None else 3000) + 500) / 1000.0

        def accept(frames):
            if len(frames) == 4 and frames[0] == b"reply" and frames[1] == rid.encode("utf-8"):
                return Reply(rid, frames[2].decode("ascii", "replace"), frames[3])
            if len(frames) == 3 and frames[0] == b"error":
                # A framing error for our request (it carries no requestId, section 7).
                raise ProtocolError("%s: %s" % (frames[1].decode(), frames[2].decode("utf-8", "replace")))
            return None
        return self._recv_until(time.monotonic() + wait_s, accept)

    # ---- replay (section 9)

    def _replay_call(self, frames: List[bytes], accept, timeout_ms: int, attempts: int):
        if self._replay is None:
            raise ProtocolError("no replay endpoint configured")
        for _ in range(attempts):
            self._replay.send_multipart(frames)
            result = self._recv_until(time.monotonic() + timeout_ms / 1000.0, accept, self._replay)
            if result is not None:
                return result
        return None

    def replay(self, after: int, limit: int = 100, topics: str = "",
               timeout_ms: int = 3000, attempts: int = 3) -> Optional[Batch]:
        """Events with seq > after (at most min(limit, 5000)), optionally only some topics."""
        def accept(f):
            if len(f) >= 3 and f[0] == b"batch" and (len(f) - 3) % 3 == 0:
                scanned, head = int(f[1]), int(f[2])
                if scanned < after and head >= after:
                    # A late answer to an earlier request (section 9). When after > head the bus
                    # answers scannedThrough = head < after: that is a real answer, keep it.
                    return None
                events = [StoredEvent(f[i].decode("utf-8"), int(f[i + 1]), f[i + 2])
                          for i in range(3, len(f), 3)]
                return Batch(scanned, head, events)
            if len(f) == 3 and f[0] == b"error":
                raise ProtocolError("%s: %s" % (f[1].decode(), f[2].decode("utf-8", "replace")))
            return None
        return self._replay_call([b"replay", str(after).encode(), str(limit).encode(),
                                  topics.encode()], accept, timeout_ms, attempts)

    def head(self, timeout_ms: int = 3000, attempts: int = 3) -> Optional[int]:
        """The highest stored seq (section 9.3)."""
        def accept(f):
            if len(f) == 2 and f[0] == b"head":
                return int(f[1])
            return None
        return self._replay_call([b"head"], accept, timeout_ms, attempts)
