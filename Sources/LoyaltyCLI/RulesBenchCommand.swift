import ArgumentParser
import Foundation
import LoyaltyEvents
import LoyaltyRules
import LoyaltySimulation
import LoyaltyWire
import RuleSimulation

struct RulesBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Time 'loyalty rules simulate': a rule set over synthetic events on one thread, and single condition evaluations.",
        discussion: """
            Generates events with the synthetic chain (fixed seed), prepares them as \
            'loyalty rules simulate' does (reported as load), then runs the rules over \
            them on one thread several times and reports the best and median events/s. \
            Then times single conditions compiled from the expression language against \
            one filled set of facts, in ns per evaluation, beside CEL-Go's published \
            357 ns/op sample.

            Build with -c release for meaningful figures: benchmarks/rules.sh
            """
    )

    @Option(help: ArgumentHelp("The rules: a file or folder.", valueName: "path"))
    var rules = "benchmarks/rules/fifty-rules.yaml"

    @Option(help: "Synthetic events to generate (purchases, returns and surveys).")
    var events = 1_000_000

    @Option(help: "Customers of the synthetic chain (with 1,000,000 events, 20,000 is about a year of a 5-store chain).")
    var customers = 20_000

    @Option(help: "Seed of the synthetic chain.")
    var seed: UInt64 = 42

    @Option(help: "Timed simulation runs; the best and the median are reported.")
    var runs = 3

    @Option(help: "Evaluations per condition in the micro-benchmark.")
    var evaluations = 10_000_000

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard events > 0 else { throw ValidationError("--events must be above 0") }
        guard customers > 0 else { throw ValidationError("--customers must be above 0") }
        guard runs > 0 else { throw ValidationError("--runs must be above 0") }
        guard evaluations > 0 else { throw ValidationError("--evaluations must be above 0") }
    }

    func run() throws {
        let loaded = RuleLoader.load(paths: [rules])
        guard let book = loaded.book else {
            for diagnostic in loaded.diagnostics { printError(diagnostic.rendered + "\n") }
            throw ValidationError("\(rules) has errors; see above or run 'loyalty rules check \(rules)'")
        }
        let ruleCount = book.ruleIds.filter { $0.key != "tiers" }.values.reduce(0) { $0 + $1.count }
        let tierCount = book.tiers?.levels.count ?? 0
        func say(_ line: String) { if !json { print(line) } }
        say("rules: \(rules): \(ruleCount) rules (+ \(tierCount) tier levels), version \(book.version)")

        // 1. Events: generated, then prepared (what 'rules simulate' calls loading).
        say("generating \(grouped(events)) events (\(grouped(customers)) customers, seed \(seed)) …")
        var chain = ChainSimulator.Configuration()
        chain.seed = seed
        chain.customers = customers
        chain.currency = book.currency ?? .NOK
        var started = Monotonic.nanoseconds
        let envelopes = Array(ChainSimulator(configuration: chain).prefix(events))
        let generateSeconds = seconds(since: started)
        started = Monotonic.nanoseconds
        var prepared = PreparedEvents()
        prepared.reserveCapacity(envelopes.count)
        for envelope in envelopes { prepared.add(envelope, currency: book.currency) }
        let loadSeconds = seconds(since: started)
        let span = prepared.firstMilliseconds.map { first in
            "\(Timestamp(epochMilliseconds: first).rfc3339.prefix(10)) to \(Timestamp(epochMilliseconds: prepared.lastMilliseconds ?? first).rfc3339.prefix(10))"
        } ?? "no events"
        let days = Double((prepared.lastMilliseconds ?? 0) - (prepared.firstMilliseconds ?? 0)) / 86_400_000
        say(String(format: "generate %.2f s; load (prepare) %.2f s = %.0f events/s; %@ (%.0f days), %@ customers",
                   generateSeconds, loadSeconds, Double(prepared.events.count) / loadSeconds,
                   span as NSString, days, grouped(prepared.customerIds.count) as NSString))

        // 2. The simulation, on this thread, several times.
        let simulation = RuleSimulation(book: book)
        var rates: [Double] = []
        var report: SimulationReport?
        for run in 1...runs {
            let result = simulation.run(prepared)
            let rate = Double(prepared.events.count) / result.evaluationSeconds
            rates.append(rate)
            say(String(format: "  run %d: %.3f s, %.0f events/s (%.0f ns/event)", run, result.evaluationSeconds, rate, 1e9 / rate))
            if let report, !Self.sameEffects(report, result) {
                throw ValidationError("run \(run) granted different effects from run 1: the simulation is not deterministic")
            }
            report = result
        }
        let report_ = report!
        let sorted = rates.sorted()
        let best = sorted.last!, median = sorted[sorted.count / 2]
        let fired = report_.rules.filter { $0.effects > 0 }
        let silent = report_.rules.filter { $0.effects == 0 }.map { "\($0.section)/\($0.ruleId)" }
        say(String(format: "evaluation: best %.0f events/s, median %.0f events/s on one thread (target 1,000,000)", best, median))
        say("effects: \(grouped(report_.purchases)) purchases, \(grouped(report_.returns)) returns, \(grouped(report_.surveys)) surveys; "
            + "\(grouped(Int(report_.pointsGranted))) points granted, \(grouped(Int(report_.pointsReversed))) reversed; "
            + "\(grouped(report_.rewardsGranted)) rewards, \(grouped(report_.discounts)) discounts, \(grouped(report_.alerts)) alerts")
        say("rules that took effect: \(fired.count) of \(report_.rules.count)" + (silent.isEmpty ? "" : "; never: \(silent.joined(separator: ", "))"))
        if !json {
            for section in ["earning", "rewards", "campaigns", "alerts"] {
                let rows = report_.rules.filter { $0.section == section }
                guard !rows.isEmpty else { continue }
                print("  \(section): " + rows.map { "\($0.ruleId) \(grouped($0.effects))" }.joined(separator: ", "))
            }
        }

        // 3. Single conditions.
        say("")
        say("single condition evaluations (\(grouped(evaluations)) each, one thread, one filled set of facts):")
        let micro = try Self.conditions(tiers: book.tiers?.ids ?? ["member", "silver", "gold"], evaluations: evaluations) { line in say(line) }
        say("Caveat: CEL-Go's 357 ns/op (README, BenchmarkCEL-8, 2018) is resource.name.startsWith(\"/groups/\" + auth.claims), a string"
            + " concatenation and prefix check on other hardware; this language has no startsWith or text +, so these are not the same expression.")

        if json {
            let object: [(String, JSONValue)] = [
                ("rules", .string(rules)), ("rulesVersion", .string(book.version)),
                ("ruleCount", .int(Int64(ruleCount))), ("tierLevels", .int(Int64(tierCount))),
                ("events", .int(Int64(prepared.events.count))), ("customers", .int(Int64(prepared.customerIds.count))),
                ("seed", .int(Int64(bitPattern: seed))), ("days", .double(days)),
                ("generateSeconds", .double(generateSeconds)), ("loadSeconds", .double(loadSeconds)),
                ("eventsPerSecond", .object(JSONObject([
                    ("best", .double(best)), ("median", .double(median)), ("runs", .array(rates.map { .double($0) })),
                ]))),
                ("purchases", .int(Int64(report_.purchases))), ("returns", .int(Int64(report_.returns))),
                ("surveys", .int(Int64(report_.surveys))),
                ("pointsGranted", .double(report_.pointsGranted)), ("pointsReversed", .double(report_.pointsReversed)),
                ("rewardsGranted", .int(Int64(report_.rewardsGranted))), ("discounts", .int(Int64(report_.discounts))),
                ("alerts", .int(Int64(report_.alerts))),
                ("rulesFired", .int(Int64(fired.count))),
                ("effects", .object(JSONObject(report_.rules.map { ("\($0.section)/\($0.ruleId)", .int(Int64($0.effects))) }))),
                ("conditions", .array(micro.map { item in
                    .object(JSONObject([
                        ("condition", .string(item.text)), ("result", .bool(item.result)),
                        ("nanosecondsPerEvaluation", .double(item.nanoseconds)),
                    ]))
                })),
                ("celGoNanosecondsPerOp", .double(357)),
            ]
            print(String(decoding: JSONWriter.serialize(.object(JSONObject(object))), as: UTF8.self))
        }
    }

    private func seconds(since start: UInt64) -> Double { Double(Monotonic.nanoseconds - start) / 1e9 }

    private func grouped(_ value: Int) -> String { SimulationTable.grouped(Int64(value)) }

    /// Same counts and totals per rule (the timings aside).
    static func sameEffects(_ a: SimulationReport, _ b: SimulationReport) -> Bool {
        guard a.pointsGranted == b.pointsGranted, a.pointsReversed == b.pointsReversed, a.rewardsGranted == b.rewardsGranted,
              a.discounts == b.discounts, a.discountTotal == b.discountTotal, a.alerts == b.alerts,
              a.rules.count == b.rules.count else { return false }
        return zip(a.rules, b.rules).allSatisfy {
            $0.ruleId == $1.ruleId && $0.effects == $1.effects && $0.customers == $1.customers && $0.points == $1.points && $0.money == $1.money
        }
    }

    /// The conditions timed alone: typical `when:` conditions, each true for the facts below
    /// (so an `and` evaluates both sides).
    static let sampleConditions = [
        "purchase.total >= 200 NOK",
        "purchase.total >= 200 NOK and customer.tier == \"gold\"",
        "purchase.store in [\"S004\", \"S005\"]",
        "purchase.lines.any(category == \"coffee\")",
        "clock.weekday in [\"saturday\", \"sunday\"] and clock.hour >= 17",
        "customer.visits(days: 30) >= 4",
    ]

    /// Times `evaluations` evaluations of each sample condition; returns (text, result, ns per evaluation).
    static func conditions(tiers: [String], evaluations: Int, say: (String) -> Void) throws -> [(text: String, result: Bool, nanoseconds: Double)] {
        let scope = Scope(roots: [.customer, .purchase, .clock], currency: .NOK, tiers: tiers)
        let facts = sampleFacts()
        var results: [(String, Bool, Double)] = []
        for text in sampleConditions {
            let condition: CompiledCondition
            do {
                condition = try ExpressionCompiler.condition(text, scope: scope)
            } catch {
                throw ValidationError("\(text): \(error)")
            }
            // Warm up, then time; the count of true results keeps the calls from being dropped.
            var matched = 0
            for _ in 0..<min(evaluations, 100_000) where condition.evaluate(facts) { matched &+= 1 }
            matched = 0
            let start = Monotonic.nanoseconds
            for _ in 0..<evaluations where condition.evaluate(facts) { matched &+= 1 }
            let ns = Double(Monotonic.nanoseconds - start) / Double(evaluations)
            guard matched == 0 || matched == evaluations else {
                throw ValidationError("\(text) gave different results for the same facts")
            }
            let result = matched == evaluations
            say(String(format: "  %6.1f ns/op  %@  (%@; CEL-Go's sample: 357 ns/op)", ns, text as NSString, (result ? "true" : "false") as NSString))
            results.append((text, result, ns))
        }
        return results
    }

    /// A gold customer with 6 visits in the last 30 days, buying three lines (coffee last) at
    /// S004 on a Saturday at 18:30 in Oslo.
    static func sampleFacts() -> Facts {
        let facts = Facts()
        let lines = [
            PurchaseLine(sku: "BAK-001", category: "bakery", quantity: 2, unitPrice: 2500, margin: 1400),
            PurchaseLine(sku: "MEA-001", category: "meat", quantity: 1, unitPrice: 12900, margin: 3000),
            PurchaseLine(sku: "COF-001", category: "coffee", quantity: 1, unitPrice: 3900, margin: 2400),
        ]
        let total = lines.reduce(Int64(0)) { $0 + $1.quantity * $1.unitPrice }
        facts.load(purchase: Purchase(storeId: "S004", terminalId: "T1", receiptId: "000001", customerId: "C000001",
                                      currency: .NOK, lines: lines, total: total))
        // Saturday 2026-03-14 18:30 in Oslo (UTC+1).
        let instant = Int64(CivilDate(year: 2026, month: 3, day: 14).dayNumber) * 86_400_000 + (17 * 60 + 30) * 60_000
        var clock = LocalClock(timeZone: TimeZone(identifier: "Europe/Oslo")!)
        facts.clock = clock.facts(at: instant)
        var customer = CustomerFacts()
        customer.id = "C000001"
        customer.known = true
        customer.tier = "gold"
        customer.visits = 40
        customer.points = 9000
        customer.qualifyingPoints = 9000
        let today = facts.clock.day
        customer.history = VisitHistory(days: [today - 27, today - 20, today - 13, today - 9, today - 4, today].map {
            VisitHistory.Day(day: $0, visits: 1, spend: 35_000)
        })
        facts.customer = customer
        return facts
    }
}
