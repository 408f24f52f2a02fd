#!/usr/bin/python3
"""basket-stats: per store and UTC day, receipts, revenue, average basket, returns and refunds;
answers `basket-stats.daily`; emits `store.record-day` when a day's sales beat the store's best day.

A plugin in Python with the guarantees of the Swift runtime (docs/protocol.md §12, docs/plugins.md):
subscribe first, replay from the cursor to the head, then apply the live feed only in seq order;
state, cursor and outbox in one SQLite transaction; derived events with derived ids and the
input's time, sent after commit and deleted once acknowledged; a service worker with heartbeats;
a clean stop on SIGTERM. Python 3 standard library and pyzmq (Debian python3-zmq) only.

Usage: basket-stats.py [--config FILE]      (started by `loyalty up` when enabled)
"""

import json
import logging
import os
import re
import signal
import sqlite3
import sys
import threading
import time

import zmq

NAME = "basket-stats"
TOPICS = ("purchase", "return")
SERVICE = "basket-stats.daily"
METRICS_SERVICE = f"{NAME}.metrics"    # what `loyalty up`'s metrics scrape asks every enabled plugin
RECORD_TYPE = "store.record-day"

REPLAY_LIMIT = 2000          # events per replay batch
LIVE_WINDOW = 50000          # further behind the head than this, the live feed is switched off
REPLAY_TIMEOUT = 3.0         # seconds without a batch before asking again on a fresh socket
HEARTBEAT = 1.0              # seconds between our heartbeats (§11.2)
BUS_SILENCE = 3.5            # seconds without a word from the bus before reconnecting
RESEND_AFTER = 2.0           # seconds without an ack before a derived event is sent again (§12.3)
OUTBOX_WINDOW = 1000         # derived events in flight at most
CURSOR_LAG = 1000            # events of other types skipped before the cursor is written anyway

log = logging.getLogger(NAME)


class Progress:
    """What the feed knows and the metrics service tells. Plain ints, written by the feed thread
    only and read by the link thread: each assignment is atomic under the GIL."""
    applied = 0          # the cursor (seq), including skipped events not yet written down
    head = 0             # the journal head last seen (replay batch or `$head` beacon)
    events_applied = 0   # purchases and returns applied by this process


# --- configuration -----------------------------------------------------------------------------

class ConfigError(Exception):
    pass


def read_yaml(path):
    """The few keys this plugin needs from config/loyalty.yaml. PyYAML (Debian python3-yaml) when
    installed; otherwise a reader for the two-level `key: value` mappings that file uses."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        import yaml
    except ImportError:
        yaml = None
    if yaml is not None:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML: {error}")
        return document if isinstance(document, dict) else {}
    document, section = {}, None
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not line.strip():
            continue
        key, colon, value = line.strip().partition(":")
        if not colon:
            continue
        value = value.strip().strip("\"'")
        if not raw.startswith((" ", "\t")):
            section = None
            if value:
                document[key] = value
            else:
                section = document.setdefault(key, {})
        elif section is not None:
            section[key] = value
    return document


class Config:
    """Where the bus is and where the database goes, found as the Swift plugins find them
    (PluginLauncher): --config FILE, else $LOYALTY_CONFIG, else ./config/loyalty.yaml, else the
    embedded loopback defaults. Relative paths in the file are relative to the project root,
    the folder that holds `config/`."""

    def __init__(self, argv, environ, cwd):
        path = environ.get("LOYALTY_CONFIG") or None
        args = list(argv[1:])
        while args:
            if args[0] == "--config" and len(args) > 1:
                path, args = args[1], args[2:]
            elif args[0] in ("-h", "--help"):
                print(__doc__.strip())
                sys.exit(0)
            else:
                print(f"{NAME}: unknown argument '{args[0]}' (try --help)", file=sys.stderr)
                sys.exit(64)
        document, root = {}, cwd
        if path:
            path = os.path.join(cwd, path)
            if not os.path.isfile(path):
                raise ConfigError(f"{path}: config file not found; check the path given with --config")
        elif os.path.isfile(os.path.join(cwd, "config", "loyalty.yaml")):
            path = os.path.join(cwd, "config", "loyalty.yaml")
        if path:
            document = read_yaml(path)
            root = os.path.dirname(os.path.dirname(os.path.abspath(path)))
        bus = section(document, "bus")
        self.ingest = str(bus.get("ingest") or "tcp://127.0.0.1:5601")
        self.publish = str(bus.get("publish") or "tcp://127.0.0.1:5602")
        self.replay = str(bus.get("replay") or "tcp://127.0.0.1:5603")
        data_dir = os.path.join(root, str(document.get("dataDir") or "var"))
        self.database = os.path.join(data_dir, "plugins", f"{NAME}.sqlite")
        security = section(document, "security")
        self.curve = str(security.get("curve", "false")).lower() in ("true", "yes", "on")
        self.keys_dir = os.path.join(root, str(security.get("keysDir") or "config/keys"))
        self.curve_keys = self.load_curve_keys(environ) if self.curve else None

    def load_curve_keys(self, environ):
        """The plugin's pair ($LOYALTY_CURVE_KEY, set by `loyalty up`, else
        <keysDir>/plugins/basket-stats.key_secret) and the bus's public key (<keysDir>/bus.key)."""
        import zmq.auth
        own = environ.get("LOYALTY_CURVE_KEY") or os.path.join(self.keys_dir, "plugins", f"{NAME}.key_secret")
        if not own.endswith(".key_secret"):
            own += ".key_secret"
        try:
            public, secret = zmq.auth.load_certificate(own)
            server, _ = zmq.auth.load_certificate(os.path.join(self.keys_dir, "bus.key"))
        except (OSError, ValueError) as error:
            raise ConfigError(f"security.curve is on but the keys cannot be read ({error}); "
                              f"run `loyalty keys add-plugin {NAME}`")
        if secret is None:
            raise ConfigError(f"{own} holds no secret key; run `loyalty keys add-plugin {NAME}`")
        return public, secret, server

    def socket(self, context, kind):
        """A socket with the CURVE client options when the bus uses CURVE (before connect)."""
        sock = context.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        if self.curve_keys:
            sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = self.curve_keys
            # A CURVE handshake the bus refuses leaves the socket unconnected: a send would block.
            sock.setsockopt(zmq.SNDTIMEO, 1000)
        return sock


def section(document, key):
    value = document.get(key)
    return value if isinstance(value, dict) else {}


# --- time --------------------------------------------------------------------------------------

RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$")


def days_from_civil(year, month, day):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(days):
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def epoch_millis(text):
    """Milliseconds since the epoch of an RFC 3339 time as the bus reads it (§5.3): fraction
    truncated to milliseconds, `:60` counted as the next minute's first instant."""
    match = RFC3339.match(text)
    if not match:
        raise ValueError(f"occurredAt '{text}' is not an RFC 3339 time")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    millis = int((match.group(7) or "0")[:3].ljust(3, "0"))
    zone = match.group(8)
    offset = 0 if zone in ("Z", "z") else (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 60 + int(zone[4:6]))
    seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset * 60
    return seconds * 1000 + millis


def utc_day(millis):
    year, month, day = civil_from_days(millis // 86_400_000)
    return f"{year:04d}-{month:02d}-{day:02d}"


def utc_text(millis):
    """The Swift runtime's form of a derived event's time: UTC with milliseconds."""
    rest = millis % 86_400_000
    return (f"{utc_day(millis)}T{rest // 3_600_000:02d}:{rest // 60_000 % 60:02d}:"
            f"{rest // 1000 % 60:02d}.{rest % 1000:03d}Z")


# --- derived events ----------------------------------------------------------------------------

MASK = (1 << 64) - 1


def derived_event_id(full):
    """`<input eventId>/<plugin>/<key>`, shortened exactly as the Swift runtime does
    (DerivedEventId.swift) when it would exceed the bus's 128 characters."""
    data = full.encode()
    if len(data) <= 128:
        return full
    fnv = 0xcbf29ce484222325
    for byte in data:
        fnv = ((fnv ^ byte) * 0x100000001B3) & MASK
    mix = 0x243F6A8885A308D3
    for byte in data:
        mix = ((mix ^ byte) * 0x9E3779B97F4A7C15) & MASK
        mix = ((mix << 27) | (mix >> 37)) & MASK
    mix ^= mix >> 31
    mix = (mix * 0xBF58476D1CE4E5B9) & MASK
    mix ^= mix >> 29
    readable = data[:48].decode("utf-8", "ignore")
    return f"{readable}/#{fnv:016x}{mix:016x}"


def derived_event(input_envelope, input_millis, event_type, key, payload):
    """The bytes of a derived event: the same input always gives the same bytes, so the bus
    stores a re-emission once (`duplicate`) instead of refusing it (`conflict`)."""
    event_id = derived_event_id(f"{input_envelope['eventId']}/{NAME}/{key}")
    envelope = {"v": 1, "eventId": event_id, "type": event_type, "occurredAt": utc_text(input_millis),
                "source": f"plugin/{NAME}", "payload": payload}
    return event_id, json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


# --- storage -----------------------------------------------------------------------------------

# The runtime tables have the Swift runtime's names and shapes, so `loyalty status` reads this
# plugin's cursor like any other's.
MIGRATIONS = [
    """
    CREATE TABLE runtime_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), appliedSeq INTEGER NOT NULL);
    INSERT INTO runtime_cursor (id, appliedSeq) VALUES (1, 0);
    CREATE TABLE runtime_outbox (position INTEGER PRIMARY KEY AUTOINCREMENT, eventId TEXT NOT NULL UNIQUE, body BLOB NOT NULL);
    CREATE TABLE runtime_failures (seq INTEGER PRIMARY KEY, eventId TEXT NOT NULL, error TEXT NOT NULL);
    CREATE TABLE basket_days (
        storeId TEXT NOT NULL, currency TEXT NOT NULL, day TEXT NOT NULL,
        receipts INTEGER NOT NULL DEFAULT 0, revenue INTEGER NOT NULL DEFAULT 0,
        returns INTEGER NOT NULL DEFAULT 0, refunded INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (storeId, currency, day)
    );
    CREATE TABLE basket_records (
        storeId TEXT NOT NULL, currency TEXT NOT NULL, day TEXT NOT NULL, revenue INTEGER NOT NULL,
        PRIMARY KEY (storeId, currency)
    );
    """,
]


def open_database(path):
    """One connection per thread. Autocommit mode: every transaction here is explicit."""
    db = sqlite3.connect(path, isolation_level=None, timeout=10.0)
    db.execute("PRAGMA journal_mode = WAL")     # service reads go on while events are applied
    db.execute("PRAGMA synchronous = FULL")     # a committed cursor survives a power cut
    return db


def migrate(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    db = open_database(path)
    version = db.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS, start=1):
        if number > version:
            # user_version is part of the transaction: a migration is applied whole or not at all.
            db.executescript(f"BEGIN IMMEDIATE; {script}; PRAGMA user_version = {number}; COMMIT;")
    db.close()


class BadEvent(Exception):
    """The event cannot be applied (bad data or a bug): record it and go on."""


def apply_event(db, envelope):
    """Applies one purchase or return; returns the derived events (id, bytes) it causes."""
    try:
        if not isinstance(envelope, dict):
            raise TypeError("the envelope is not a JSON object")
        payload = envelope["payload"]
        millis = epoch_millis(envelope["occurredAt"])
        store, currency, total = payload["storeId"], payload["currency"], int(payload["total"])
        kind = envelope["type"]
    except (KeyError, TypeError, ValueError) as error:
        raise BadEvent(f"unreadable {envelope.get('type', 'event')}: {error!r}")
    day = utc_day(millis)
    if kind == "return":
        db.execute("""INSERT INTO basket_days (storeId, currency, day, returns, refunded) VALUES (?, ?, ?, 1, ?)
                      ON CONFLICT (storeId, currency, day) DO UPDATE
                      SET returns = returns + 1, refunded = refunded + excluded.refunded""",
                   (store, currency, day, total))
        return []
    db.execute("""INSERT INTO basket_days (storeId, currency, day, receipts, revenue) VALUES (?, ?, ?, 1, ?)
                  ON CONFLICT (storeId, currency, day) DO UPDATE
                  SET receipts = receipts + 1, revenue = revenue + excluded.revenue""",
               (store, currency, day, total))
    receipts, revenue = db.execute("SELECT receipts, revenue FROM basket_days WHERE storeId = ? AND currency = ? AND day = ?",
                                   (store, currency, day)).fetchone()
    record = db.execute("SELECT day, revenue FROM basket_records WHERE storeId = ? AND currency = ?",
                        (store, currency)).fetchone()
    if record is None or record[0] == day:
        # A store's first day sets the bar; the day holding the record only raises it.
        db.execute("INSERT OR REPLACE INTO basket_records (storeId, currency, day, revenue) VALUES (?, ?, ?, ?)",
                   (store, currency, day, revenue))
        return []
    if revenue <= record[1]:
        return []
    db.execute("UPDATE basket_records SET day = ?, revenue = ? WHERE storeId = ? AND currency = ?",
               (day, revenue, store, currency))
    return [derived_event(envelope, millis, RECORD_TYPE, "record-day", {
        "storeId": store, "currency": currency, "day": day, "revenue": revenue, "receipts": receipts,
        "previousDay": record[0], "previousRevenue": record[1],
    })]


def apply_run(db, events, through):
    """Applies `events` [(seq, envelope bytes)] and moves the cursor to `through`, in ONE
    transaction with the derived events written to the outbox: after a crash, either all of it
    happened or none of it did. Returns how many derived events were queued."""
    queued = 0
    db.execute("BEGIN IMMEDIATE")
    try:
        for seq, raw in events:
            # A savepoint per event: a bad event loses its own writes only.
            db.execute("SAVEPOINT event")
            envelope = None
            try:
                try:
                    envelope = json.loads(raw)
                except ValueError as error:
                    raise BadEvent(f"not JSON: {error}")
                derived = apply_event(db, envelope)
                for event_id, body in derived:
                    queued += db.execute("INSERT INTO runtime_outbox (eventId, body) VALUES (?, ?) ON CONFLICT (eventId) DO NOTHING",
                                         (event_id, body)).rowcount
                db.execute("RELEASE event")
            except BadEvent as error:
                db.execute("ROLLBACK TO event")
                db.execute("RELEASE event")
                event_id = envelope.get("eventId", "?") if isinstance(envelope, dict) else "?"
                log.error("apply failed for seq %d (%s): %s", seq, event_id, error)
                db.execute("INSERT OR REPLACE INTO runtime_failures (seq, eventId, error) VALUES (?, ?, ?)",
                           (seq, str(event_id), str(error)))
            # Any other error (a locked or full database) rolls back the whole run, which is then
            # replayed: it says nothing about the event.
        db.execute("UPDATE runtime_cursor SET appliedSeq = ? WHERE id = 1 AND appliedSeq < ?", (through, through))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return queued


# --- the event feed: subscribe, replay, live ---------------------------------------------------

class Feed(threading.Thread):
    """Owns the SUB and the replay DEALER and the database writer connection."""

    def __init__(self, config, context, stop, outbox_dirty):
        super().__init__(name="feed", daemon=True)
        self.config, self.context, self.stop, self.outbox_dirty = config, context, stop, outbox_dirty

    def run(self):
        db = open_database(self.config.database)
        # Subscribe FIRST: from now on nothing published is missed; what arrives while we
        # replay waits in the socket (no high-water mark) and the overlap is skipped by seq.
        sub = self.config.socket(self.context, zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(self.config.publish)
        self.sub, self.live_on = sub, True
        self.replay = self.replay_socket()
        self.applied = self.committed = Progress.applied = db.execute("SELECT appliedSeq FROM runtime_cursor").fetchone()[0]
        log.info("event feed starting at seq %d", self.applied)
        needs_replay = True
        try:
            while not self.stop.is_set():
                try:
                    if needs_replay:
                        caught_up = self.catch_up(db)
                        if caught_up is not None:
                            needs_replay = not caught_up
                        continue
                    if not sub.poll(200):
                        if self.applied > self.committed:     # idle: write down a cursor that only skipped
                            self.apply(db, [], self.applied)
                        continue
                    needs_replay = self.take_live(db, sub)
                except zmq.ContextTerminated:
                    return
                except (zmq.ZMQError, sqlite3.Error) as error:
                    log.error("event feed: %s; replaying in 1 s", error)
                    needs_replay = True
                    self.stop.wait(1.0)
        finally:
            sub.close()
            self.replay.close()
            db.close()

    def take_live(self, db, sub):
        """Reads what the SUB holds and applies the events that follow the cursor, in seq order.
        Returns True when a gap was seen (a seq jump, or a `$head` beacon ahead): back to replay."""
        live, gap = [], False
        while len(live) < 5000:
            try:
                frames = sub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            if frames[0] == b"$head":
                # Every event up to `head` was published before this beacon: if the last one is
                # not here, something was dropped.
                if len(frames) == 2:
                    Progress.head = max(Progress.head, int(frames[1]))
                    if int(frames[1]) > (live[-1][1] if live else self.applied):
                        gap = True
                continue
            if len(frames) == 3:
                live.append((frames[0].decode(), int(frames[1]), frames[2]))
        run, expected = [], self.applied + 1
        for event in live:
            if event[1] < expected:
                continue                  # already applied (overlap with a replay)
            if event[1] > expected:
                gap = True                # missed events: replay from the cursor
                break
            run.append(event)
            expected += 1
        if run:
            self.apply(db, run, run[-1][1])
        return gap

    def catch_up(self, db):
        """Replays from the cursor to the journal head (§9). True when caught up; None when the
        bus did not answer (asked again on a fresh socket)."""
        while not self.stop.is_set():
            self.replay.send_multipart([b"replay", str(self.applied).encode(), str(REPLAY_LIMIT).encode(),
                                        ",".join(TOPICS).encode()])
            deadline = time.monotonic() + REPLAY_TIMEOUT
            while not self.replay.poll(200):
                if self.stop.is_set():
                    return None
                if time.monotonic() > deadline:
                    log.warning("no answer from the replay endpoint %s; asking again", self.config.replay)
                    self.reset_replay()
                    return None
            frames = self.replay.recv_multipart()
            if frames[0] != b"batch" or len(frames) < 3 or (len(frames) - 3) % 3:
                log.warning("replay refused: %s", b": ".join(frames[1:]).decode(errors="replace"))
                self.reset_replay()
                self.stop.wait(0.5)
                return None
            scanned, head = int(frames[1]), int(frames[2])
            Progress.head = max(Progress.head, head)
            if head < self.applied:
                log.error("the journal's head (%d) is behind this plugin's cursor (%d); was the journal replaced? "
                          "Waiting; restore the journal or delete %s", head, self.applied, self.config.database)
                self.reset_replay()
                self.stop.wait(5.0)
                return None
            if scanned < self.applied:
                continue                  # a late answer to an earlier question
            self.follow_live(head - scanned)
            events = [(frames[i].decode(), int(frames[i + 1]), frames[i + 2]) for i in range(3, len(frames), 3)]
            self.apply(db, [e for e in events if e[1] > self.applied], scanned)
            if scanned >= head:
                return True
        return None

    def follow_live(self, remaining):
        """Far behind the head, the SUB is unsubscribed: nothing reads it while we replay and it
        has no high-water mark, so whatever the bus published meanwhile would wait in memory only
        to be skipped as replayed. Back on within half of LIVE_WINDOW, before the replay reaches
        the head (the gap between the two keeps a backlog hovering near the window from switching
        at every batch); anything missed in between shows as a gap and is replayed."""
        if self.live_on and remaining > LIVE_WINDOW:
            self.sub.setsockopt(zmq.UNSUBSCRIBE, b"")
            self.live_on = False
            log.info("catching up %d events behind the journal's head: live feed off until within %d", remaining, LIVE_WINDOW // 2)
        if not self.live_on and remaining <= LIVE_WINDOW // 2:
            self.sub.setsockopt(zmq.SUBSCRIBE, b"")
            self.live_on = True
            log.info("live feed on again")
        if not self.live_on:
            while True:               # queued before the bus saw the unsubscription: covered by the replay
                try:
                    self.sub.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break

    def apply(self, db, published, through):
        events = [(seq, raw) for topic, seq, raw in published if topic in TOPICS]
        if not events and through - self.committed < CURSOR_LAG and through > self.applied:
            # Only others' events: move the cursor in memory; it is written with the next real
            # change, or when idle (skipping them again after a crash is harmless).
            self.applied = Progress.applied = through
            return
        if apply_run(db, events, through):
            self.outbox_dirty.set()
        self.applied = self.committed = Progress.applied = max(self.committed, through)
        Progress.events_applied += len(events)

    def replay_socket(self):
        sock = self.config.socket(self.context, zmq.DEALER)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.connect(self.config.replay)
        return sock

    def reset_replay(self):
        # A fresh socket drops whatever answer the old one still had coming.
        self.replay.close()
        self.replay = self.replay_socket()


# --- the bus link: outbox, service, heartbeats -------------------------------------------------

class Link(threading.Thread):
    """Owns the ingest DEALER: sends the outbox, registers the service, answers requests."""

    def __init__(self, config, context, stop, outbox_dirty):
        super().__init__(name="link", daemon=True)
        self.config, self.context, self.stop, self.outbox_dirty = config, context, stop, outbox_dirty

    def run(self):
        db = open_database(self.config.database)
        try:
            while not self.stop.is_set():
                try:
                    self.session(db)
                except zmq.ContextTerminated:
                    return
                except (zmq.ZMQError, sqlite3.Error) as error:
                    log.error("bus link: %s; reconnecting", error)
                    self.stop.wait(0.5)
        finally:
            db.close()

    def session(self, db):
        """One connection's life; returns to reconnect when the bus has been silent too long."""
        sock = self.config.socket(self.context, zmq.DEALER)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.connect(self.config.ingest)
        sock.send_multipart([b"ready", SERVICE.encode(), METRICS_SERVICE.encode()])
        last_heard = last_heartbeat = time.monotonic()
        in_flight = {}                # eventId -> [sent at, bytes]
        sent_through = 0              # outbox position; a new session sends everything unacked again
        last_scan = last_resend = 0.0
        more = True
        try:
            while not self.stop.is_set():
                readable = sock.poll(50)
                now = time.monotonic()
                acknowledged = []
                while readable:
                    try:
                        frames = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    last_heard = now
                    command = frames[0]
                    if command == b"ack" and len(frames) == 6:
                        event_id, status = frames[1].decode(), frames[2]
                        if event_id not in in_flight:
                            continue                  # a late ack of an earlier attempt
                        if status == b"unavailable":
                            in_flight[event_id][0] = now - RESEND_AFTER + 0.5    # again in ~0.5 s
                            continue
                        if status == b"rejected":
                            # Retrying the same bytes cannot help: log it and let it go.
                            log.error("derived event %s refused by the bus: %s %s", event_id,
                                      frames[4].decode(), frames[5].decode(errors="replace"))
                        del in_flight[event_id]
                        acknowledged.append(event_id)
                    elif command == b"request" and len(frames) == 4:
                        status, body = answer(db, frames[2].decode(errors="replace"), frames[3])
                        sock.send_multipart([b"reply", frames[1], status, body])
                    elif command == b"disconnect":
                        sock.send_multipart([b"ready", SERVICE.encode(), METRICS_SERVICE.encode()])   # the bus forgot us
                    # heartbeat or anything newer: hearing it was the point
                if acknowledged:
                    db.execute("BEGIN IMMEDIATE")
                    db.executemany("DELETE FROM runtime_outbox WHERE eventId = ?", [(e,) for e in acknowledged])
                    db.execute("COMMIT")
                if now - last_heartbeat >= HEARTBEAT:
                    last_heartbeat = now
                    sock.send_multipart([b"heartbeat"])
                if now - last_heard > BUS_SILENCE:
                    log.warning("nothing from the bus at %s for %.1f s; reconnecting", self.config.ingest, now - last_heard)
                    return
                if self.outbox_dirty.is_set() or now - last_scan > 1.0:
                    self.outbox_dirty.clear()
                    more = True
                if more and len(in_flight) < OUTBOX_WINDOW:
                    last_scan = now
                    room = OUTBOX_WINDOW - len(in_flight)
                    rows = db.execute("SELECT position, eventId, body FROM runtime_outbox WHERE position > ? ORDER BY position LIMIT ?",
                                      (sent_through, room)).fetchall()
                    for position, event_id, body in rows:
                        in_flight[event_id] = [now, bytes(body)]
                        sock.send_multipart([b"event", bytes(body)])
                        sent_through = position
                    more = len(rows) == room
                if in_flight and now - last_resend > 0.5:
                    last_resend = now
                    for event_id, sent in in_flight.items():
                        if now - sent[0] >= RESEND_AFTER:
                            sent[0] = now
                            sock.send_multipart([b"event", sent[1]])     # the SAME bytes
        finally:
            if self.stop.is_set():
                # Waiting clients get `unavailable` at once instead of after the 3.5 s expiry.
                try:
                    sock.send_multipart([b"disconnect"], zmq.NOBLOCK)
                except zmq.ZMQError:
                    pass
                sock.close(linger=500)
            else:
                sock.close()


DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
USAGE = 'expected a JSON object like {"storeId":"S001"} or {"storeId":"S001","day":"2026-11-23"}'


def metrics(db):
    """Prometheus text with the Swift runtime's plugin metric names (PluginMetrics.swift), so the
    merged scrape shows this plugin's progress like any other's."""
    pending = db.execute("SELECT COUNT(*) FROM runtime_outbox").fetchone()[0]
    failures = db.execute("SELECT COUNT(*) FROM runtime_failures").fetchone()[0]
    applied, head = Progress.applied, max(Progress.head, Progress.applied)
    label = f'{{plugin="{NAME}"}}'
    lines = []
    for name, kind, value in [
        ("loyalty_plugin_applied_seq", "gauge", f"{applied}.0"),
        ("loyalty_plugin_head_seq", "gauge", f"{head}.0"),
        ("loyalty_plugin_lag_events", "gauge", f"{head - applied}.0"),
        ("loyalty_plugin_events_applied_total", "counter", str(Progress.events_applied)),
        ("loyalty_plugin_failures_total", "counter", str(failures)),
        ("loyalty_plugin_outbox_pending", "gauge", f"{pending}.0"),
    ]:
        lines += [f"# TYPE {name} {kind}", f"{name}{label} {value}"]
    return "\n".join(lines) + "\n"


def answer(db, service, body):
    """`basket-stats.daily`: the store's days (or one day), with its record per currency."""
    if service == METRICS_SERVICE:
        return b"ok", metrics(db).encode()
    if service != SERVICE:
        return b"error", f"this plugin does not offer '{service}'".encode()
    try:
        query = json.loads(body)
    except ValueError:
        return b"error", USAGE.encode()
    if not isinstance(query, dict) or not isinstance(query.get("storeId"), str) or not query["storeId"]:
        return b"error", USAGE.encode()
    unknown = sorted(set(query) - {"storeId", "day"})
    if unknown:
        return b"error", f"unknown field '{unknown[0]}'; {USAGE}".encode()
    day = query.get("day")
    if day is not None and not (isinstance(day, str) and DAY.match(day)):
        return b"error", f"'day' must be a UTC date like 2026-11-23, got {json.dumps(day)}".encode()
    store = query["storeId"]
    # One read transaction: the days and the records come from the same committed state.
    db.execute("BEGIN")
    try:
        sql = "SELECT day, currency, receipts, revenue, returns, refunded FROM basket_days WHERE storeId = ?"
        arguments = [store]
        if day is not None:
            sql += " AND day = ?"
            arguments.append(day)
        rows = db.execute(sql + " ORDER BY day, currency", arguments).fetchall()
        records = db.execute("SELECT currency, day, revenue FROM basket_records WHERE storeId = ? ORDER BY currency",
                             (store,)).fetchall()
    finally:
        db.execute("COMMIT")
    days = [{
        "day": d, "currency": currency, "receipts": receipts, "revenue": revenue,
        # Rounded to the nearest minor unit, halves up; none on a day with only returns.
        "averageBasket": (2 * revenue + receipts) // (2 * receipts) if receipts else None,
        "returns": returns, "refunded": refunded, "net": revenue - refunded,
    } for d, currency, receipts, revenue, returns, refunded in rows]
    result = {"storeId": store, "days": days,
              "records": [{"currency": c, "day": d, "revenue": r} for c, d, r in records]}
    return b"ok", json.dumps(result, separators=(",", ":")).encode()


# --- main --------------------------------------------------------------------------------------

def main():
    levels = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "notice": logging.INFO,
              "warning": logging.WARNING, "error": logging.ERROR, "critical": logging.CRITICAL}
    logging.basicConfig(stream=sys.stderr, format=f"%(asctime)s %(levelname)s {NAME}: %(message)s",
                        level=levels.get(os.environ.get("LOYALTY_LOG_LEVEL", "info"), logging.INFO))
    stop = threading.Event()
    # A parent may pass its blocked-signal mask on (a Swift process that handles signals itself,
    # `loyalty up` or a test, does): SIGTERM would stay pending forever. Unblock them before
    # any thread starts, as threads inherit the mask.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    # Set before anything slow, so a SIGTERM during startup is a clean stop too.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        config = Config(sys.argv, os.environ, os.getcwd())
        migrate(config.database)
    except (ConfigError, OSError, sqlite3.Error) as error:
        log.critical("cannot run: %s", error)
        return 1
    context = zmq.Context()
    outbox_dirty = threading.Event()
    threads = [Feed(config, context, stop, outbox_dirty), Link(config, context, stop, outbox_dirty)]
    for thread in threads:
        thread.start()
    log.info("plugin running (service %s, database %s)", SERVICE, config.database)
    # Waiting in slices keeps the main thread free to run the signal handler.
    while not stop.wait(0.2):
        if not all(thread.is_alive() for thread in threads):
            log.critical("a thread of %s died; exiting so that the supervisor restarts it", NAME)
            stop.set()
            context.term()
            return 1
    log.info("plugin stopping")
    for thread in threads:
        thread.join(timeout=5)
    context.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
