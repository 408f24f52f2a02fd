#!/usr/bin/python3
"""The soak driver behind scripts/soak: loopback only, bounded in time.

Starts `loyalty up` on a fresh project (free 127.0.0.1 ports, its own SQLite files), feeds it
purchases from several POS terminals (pyzmq DEALERs that resend the same bytes until acked),
SIGKILLs a random child (the bus or a plugin) every few seconds, then stops the load, waits for
every plugin to catch up, stops everything and reconciles: every acknowledged event is in the
journal once, nothing unsent is, and every plugin applied every purchase exactly once.
"""
import argparse, json, os, random, shutil, signal, socket, sqlite3, subprocess, sys, tempfile, time
from datetime import datetime, timezone

import zmq

PLUGINS = ["store-counter", "points-accrual", "customer-scoring"]
RULES = """currency: NOK
timezone: UTC
earning:
  pending: 0d
  rules:
    - id: base
      points: purchase.total / 10 NOK
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def now_rfc3339():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def read_only(path):
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--rate", type=float, default=150, help="purchases per second, all terminals together")
    ap.add_argument("--terminals", type=int, default=4)
    ap.add_argument("--kill-every", type=float, default=12, help="mean seconds between SIGKILLs")
    ap.add_argument("--bin", required=True, help="folder holding loyalty and the plugin executables")
    ap.add_argument("--repo", required=True)
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--keep", action="store_true", help="keep the project folder")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    args.bin = os.path.abspath(args.bin)

    root = tempfile.mkdtemp(prefix="loyalty-soak-")
    ports = [free_port() for _ in range(3)]
    os.makedirs(f"{root}/config/rules")
    with open(f"{root}/config/rules/points.yaml", "w") as f:
        f.write(RULES)
    for name in PLUGINS:
        os.makedirs(f"{root}/plugins/{name}")
        for file in os.listdir(f"{args.repo}/plugins/{name}"):
            if file.endswith(".yaml"):
                shutil.copy(f"{args.repo}/plugins/{name}/{file}", f"{root}/plugins/{name}/{file}")
    with open(f"{root}/config/loyalty.yaml", "w") as f:
        f.write(f"""bus:
  ingest: tcp://127.0.0.1:{ports[0]}
  publish: tcp://127.0.0.1:{ports[1]}
  replay: tcp://127.0.0.1:{ports[2]}
dataDir: var
plugins:
  directory: plugins
  enabled: [{", ".join(PLUGINS)}]
""")
    log = open(f"{root}/up.log", "w")
    up = subprocess.Popen([f"{args.bin}/loyalty", "up", "--config", f"{root}/config/loyalty.yaml", "--log-level", "warning"],
                          cwd=root, stdout=log, stderr=subprocess.STDOUT)
    print(f"soak: project {root}, loyalty up pid {up.pid}, {args.minutes} min at {args.rate}/s, "
          f"{args.terminals} terminals, a SIGKILL every ~{args.kill_every} s", flush=True)

    def children():
        try:
            with open(f"{root}/var/run/supervisor.json") as f:
                return {c["name"]: c for c in json.load(f)["children"]}
        except (OSError, ValueError, KeyError):
            return {}

    ctx = zmq.Context()
    terminals = []
    for t in range(args.terminals):
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SNDTIMEO, 1000)
        s.setsockopt(zmq.RECONNECT_IVL, 50)
        s.setsockopt(zmq.RECONNECT_IVL_MAX, 500)
        s.connect(f"tcp://127.0.0.1:{ports[0]}")
        terminals.append(s)
    poller = zmq.Poller()
    for s in terminals:
        poller.register(s, zmq.POLLIN)

    sent = {}          # eventId -> bytes (every event ever sent)
    in_flight = {}     # eventId -> [terminal index, next resend time]
    acked = {}         # eventId -> status
    rejected = []
    counts = {"resends": 0, "unavailable": 0, "stored": 0, "duplicate": 0}
    kills = {}
    next_receipt = [0] * args.terminals

    def send(t, event_id):
        try:
            terminals[t].send_multipart([b"event", sent[event_id]])
        except zmq.Again:
            pass   # no connection right now; the resend timer retries
        in_flight[event_id] = [t, time.monotonic() + 2.0]

    def new_purchase(t):
        next_receipt[t] += 1
        store = f"S{t % 10 + 1:03d}"
        event_id = f"{store}-T{t}-{next_receipt[t]}"
        qty = rng.randint(1, 5)
        price = rng.choice([1500, 3900, 12900, 24900])
        body = {"v": 1, "eventId": event_id, "type": "purchase", "occurredAt": now_rfc3339(), "source": f"pos/{store}/T{t}",
                "payload": {"storeId": store, "terminalId": f"T{t}", "receiptId": str(next_receipt[t]),
                            "customerId": f"C{rng.randint(1, 2000):06d}", "currency": "NOK",
                            "lines": [{"sku": "SKU-%d" % rng.randint(1, 50), "category": "grocery", "quantity": qty, "unitPrice": price}],
                            "total": qty * price}}
        sent[event_id] = json.dumps(body, separators=(",", ":")).encode()
        send(t, event_id)

    def pump(timeout_ms):
        for s, _ in poller.poll(timeout_ms):
            while True:
                try:
                    frames = s.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                if len(frames) != 6 or frames[0] != b"ack":
                    continue
                event_id, status = frames[1].decode(), frames[2].decode()
                if event_id not in in_flight:
                    continue
                if status in ("stored", "duplicate"):
                    acked[event_id] = status
                    counts[status] += 1
                    del in_flight[event_id]
                elif status == "rejected":
                    rejected.append((event_id, frames[4].decode(), frames[5].decode()))
                    del in_flight[event_id]
                else:
                    counts["unavailable"] += 1
                    in_flight[event_id][1] = time.monotonic() + 0.2
        now = time.monotonic()
        for event_id, (t, due) in list(in_flight.items()):
            if now >= due:
                counts["resends"] += 1
                send(t, event_id)

    # Wait for the bus and plugins to be up.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(children().get(n, {}).get("running") for n in ["bus"] + PLUGINS):
        time.sleep(0.2)
    start = time.monotonic()
    end = start + args.minutes * 60
    next_kill = start + rng.expovariate(1 / args.kill_every)
    issued = 0
    last_report = start
    while time.monotonic() < end:
        now = time.monotonic()
        due = int((now - start) * args.rate)
        while issued < due:
            new_purchase(issued % args.terminals)
            issued += 1
        if now >= next_kill:
            running = {n: c for n, c in children().items() if c.get("running") and c.get("pid")}
            if running:
                victim = rng.choice(sorted(running))
                try:
                    os.kill(running[victim]["pid"], signal.SIGKILL)
                    kills[victim] = kills.get(victim, 0) + 1
                except ProcessLookupError:
                    pass
            next_kill = now + rng.expovariate(1 / args.kill_every)
        if now - last_report >= 30:
            last_report = now
            print(f"  {now - start:5.0f} s: sent {len(sent)}, acked {len(acked)}, in flight {len(in_flight)}, kills {kills}", flush=True)
        pump(10)

    # Drain: every event sent is resent until acknowledged.
    drain_deadline = time.monotonic() + 180
    while in_flight and time.monotonic() < drain_deadline:
        pump(50)
    unacked = list(in_flight)

    # Catch-up: every plugin's cursor at the journal head, and the head still for 5 s.
    journal = f"{root}/var/journal.sqlite"

    def head():
        with read_only(journal) as db:
            return db.execute("SELECT COALESCE(MAX(seq),0) FROM journal").fetchone()[0]

    def cursors():
        result = {}
        for name in PLUGINS:
            try:
                with read_only(f"{root}/var/plugins/{name}.sqlite") as db:
                    result[name] = db.execute("SELECT appliedSeq FROM runtime_cursor").fetchone()[0]
            except sqlite3.Error:
                result[name] = -1
        return result

    caught_up, stable_since, last = False, None, None
    catch_deadline = time.monotonic() + 300
    while time.monotonic() < catch_deadline:
        h, c = head(), cursors()
        if all(v == h for v in c.values()) and (h, c) == last:
            stable_since = stable_since or time.monotonic()
            if time.monotonic() - stable_since >= 5:
                caught_up = True
                break
        else:
            stable_since = None
        last = (h, c)
        time.sleep(0.5)
    final_children = children()
    up.send_signal(signal.SIGTERM)
    try:
        up.wait(60)
    except subprocess.TimeoutExpired:
        up.kill()
    for s in terminals:
        s.close()
    ctx.term()

    # Reconciliation.
    with read_only(journal) as db:
        rows = db.execute("SELECT eventId, customerId, body FROM journal WHERE type = 'purchase'").fetchall()
        journal_head = db.execute("SELECT COALESCE(MAX(seq),0) FROM journal").fetchone()[0]
        derived = db.execute("SELECT COUNT(*) FROM journal WHERE type != 'purchase'").fetchone()[0]
    purchases = {r[0]: (json.loads(r[2])["payload"]["storeId"], r[1]) for r in rows}
    problems = []
    missing = [e for e in acked if e not in purchases]
    phantom = [e for e in purchases if e not in sent]
    if missing: problems.append(f"{len(missing)} acknowledged events not in the journal, e.g. {missing[:3]}")
    if phantom: problems.append(f"{len(phantom)} journal events never sent, e.g. {phantom[:3]}")
    if unacked: problems.append(f"{len(unacked)} events never acknowledged")
    if rejected: problems.append(f"{len(rejected)} rejected, e.g. {rejected[:2]}")
    if not caught_up: problems.append(f"plugins did not catch up: head {head()}, cursors {cursors()}")
    per_store = {}
    for store, _ in purchases.values():
        per_store[store] = per_store.get(store, 0) + 1
    with_customer = {e for e, (_, c) in purchases.items() if c}
    applied = {}
    for name in PLUGINS:
        with read_only(f"{root}/var/plugins/{name}.sqlite") as db:
            failures = db.execute("SELECT COUNT(*) FROM runtime_failures").fetchone()[0]
            if failures: problems.append(f"{name}: {failures} events failed to apply")
            if name == "store-counter":
                counted = dict(db.execute("SELECT storeId, SUM(purchases) FROM store_counts GROUP BY storeId").fetchall())
                applied[name] = sum(counted.values())
                if counted != per_store: problems.append(f"store-counter counts {counted} != journal {per_store}")
            else:
                table = "lots" if name == "points-accrual" else "scoring_purchases"
                ids = [r[0] for r in db.execute(f"SELECT eventId FROM {table}")]
                applied[name] = len(ids)
                if len(ids) != len(set(ids)) or set(ids) != with_customer:
                    problems.append(f"{name}: {len(ids)} applied ({len(set(ids))} distinct) for {len(with_customer)} purchases; "
                                    f"missing {len(with_customer - set(ids))}, extra {len(set(ids) - with_customer)}")
    restarts = {n: c.get("restarts", 0) for n, c in final_children.items()}
    figures = {
        "minutes": args.minutes, "ratePerSecond": args.rate, "sent": len(sent), "acknowledged": len(acked),
        "ackedStored": counts["stored"], "ackedDuplicate": counts["duplicate"], "resends": counts["resends"],
        "unavailableAnswers": counts["unavailable"], "rejected": len(rejected), "unacknowledged": len(unacked),
        "journalPurchases": len(purchases), "journalDerivedEvents": derived, "journalHead": journal_head,
        "appliedExactlyOnce": applied, "sigkills": kills, "restarts": restarts, "problems": problems,
    }
    print(json.dumps(figures, indent=2))
    print("soak: PASS — every acknowledged event is in the journal once and applied exactly once by every plugin"
          if not problems else "soak: FAIL", flush=True)
    if args.keep or problems:
        print(f"soak: project kept at {root} (up.log has the processes' output)")
    else:
        shutil.rmtree(root, ignore_errors=True)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
