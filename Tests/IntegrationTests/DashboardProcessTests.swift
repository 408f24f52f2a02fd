import Foundation
import LoyaltyEvents
import LoyaltyTestSupport
import LoyaltyWire
import Testing
import ZeroMQ

/// The real `loyalty up --dashboard` on a simulated chain: the page over HTTP, then in headless
/// Chromium (a screenshot, and the DOM as the browser built it).
@Suite(.serialized) struct DashboardProcessTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static func project() throws -> TestProject {
        let project = try TestProject(plugins: ["customer-scoring", "satisfaction", "discount-campaigns"])
        let manifests = [
            ("customer-scoring", Executables.customerScoring, "in: [purchase, return]\n  out: [customer.scored]", "[customer.score]", "[]"),
            ("satisfaction", Executables.satisfaction, "in: [survey, purchase, customer.scored]\n  out: [alert.raised, alert.resolved, rules.activated, alert.config]",
             "[satisfaction.report, satisfaction.alerts, satisfaction.trend, satisfaction.rules]", "[alerts]"),
            ("discount-campaigns", Executables.discountCampaigns,
             "in: [purchase, survey, points.accrued, tier.changed, customer.scored]\n  out: [campaign.redeemed, rules.activated, alert.config]",
             "[campaign.quote, campaign.codes.import, campaign.report, discount-campaigns.rules]", "[campaigns]"),
        ]
        for (name, executable, topics, services, rules) in manifests {
            try FileManager.default.createDirectory(atPath: project.root.path + "/plugins/\(name)", withIntermediateDirectories: true)
            try "name: \(name)\nexecutable: \(executable)\ntopics:\n  \(topics)\nservices: \(services)\nrules: \(rules)\n"
                .write(toFile: project.root.path + "/plugins/\(name)/plugin.yaml", atomically: true, encoding: .utf8)
        }
        try "refitEvery: 250\n".write(toFile: project.root.path + "/plugins/customer-scoring/scoring.yaml", atomically: true, encoding: .utf8)
        // The shipped rules: what a store manager's dashboard would show.
        for file in ["program.yaml", "alerts.yaml", "campaigns.yaml"] {
            try FileManager.default.copyItem(atPath: repository + "/config/rules/" + file, toPath: project.rulesDirectory + "/" + file)
        }
        return project
    }

    /// A PNG's size and the number of distinct colours on a grid of its pixels (Python's zlib,
    /// the filters undone by hand: no imaging library needed).
    static func pngFacts(_ path: String) throws -> (width: Int, height: Int, colours: Int) {
        let script = #"""
            import struct, sys, zlib
            d = open(sys.argv[1], 'rb').read()
            assert d[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
            pos, idat = 8, b''
            while pos < len(d):
                n, = struct.unpack('>I', d[pos:pos + 4]); kind = d[pos + 4:pos + 8]; body = d[pos + 8:pos + 8 + n]; pos += 12 + n
                if kind == b'IHDR': w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
                elif kind == b'IDAT': idat += body
            assert depth == 8 and ctype in (2, 6), 'unexpected PNG format'
            bpp = 3 if ctype == 2 else 4
            raw = zlib.decompress(idat); stride = w * bpp; prev = bytearray(stride); colours = set(); i = 0
            for y in range(h):
                f = raw[i]; line = bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
                for x in range(stride):
                    a = line[x - bpp] if x >= bpp else 0; b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
                    if f == 1: line[x] = (line[x] + a) & 255
                    elif f == 2: line[x] = (line[x] + b) & 255
                    elif f == 3: line[x] = (line[x] + ((a + b) >> 1)) & 255
                    elif f == 4:
                        p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                        line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
                if y % 3 == 0:
                    for x in range(0, stride, bpp * 3): colours.add(bytes(line[x:x + 3]))
                prev = line
            print(w, h, len(colours))
            """#
        let result = try runProcess("/usr/bin/python3", ["-c", script, path])
        let fields = result.output.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard result.status == 0, fields.count == 3 else { throw HTTPError(message: "reading \(path): \(result.output)") }
        return (fields[0], fields[1], fields[2])
    }

    struct HTTPError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// The page body, or nil when the server does not answer.
    static func fetch(_ url: String) -> String? {
        let result = try? runProcess("/usr/bin/python3", ["-c", "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())", url])
        return result?.status == 0 ? result?.output : nil
    }

    @Test(.timeLimit(.minutes(5))) func upServesTheDashboardAndChromiumRendersIt() throws {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
        try #require(chromium != nil, "chromium is not installed: run scripts/setup --for-tests")
        let project = try Self.project()
        defer { project.root.remove() }
        let port = freeLoopbackPort()
        let base = "http://127.0.0.1:\(port)"
        let up = try project.start(["up", "--dashboard", "--dashboard-address", "127.0.0.1:\(port)"], log: "up.log")
        defer { if up.isRunning { up.terminate(); up.waitUntilExit() } }
        let context = try ZMQContext()
        let client = try BusClient(context: context, endpoint: project.ingest)
        let serving = waitUntil(seconds: 60) {
            (try? client.request(service: "satisfaction.alerts", body: Array("{}".utf8), timeoutMilliseconds: 1000))?.status == .ok
                && (try? client.request(service: "campaign.report", body: Array("{}".utf8), timeoutMilliseconds: 1000))?.status == .ok
        }
        try #require(serving, "the plugins did not come up: \(project.log("up.log").suffix(3000))")
        #expect(waitUntil(seconds: 10) { Self.fetch(base + "/healthz") == "ok\n" })

        // A simulated chain: purchases and surveys from 5 stores over some weeks, then one answer
        // that the shipped rule `poor-service` (service level 3 or lower) turns into an alert.
        let simulated = try runProcess(Executables.loyalty, ["pos", "simulate", "--count", "4000", "--customers", "250", "--quiet",
                                                             "--config", project.configPath])
        try #require(simulated.status == 0, "\(simulated.output)")
        // At the end of the simulated weeks (the satisfaction plugin's clock is the latest event
        // time), from a customer the simulation does not have, so that no alert of theirs stands yet.
        let last = try #require(CustomerScoringProcessTests.value(project.journalPath,
                                                                   "SELECT MAX(occurredAt) FROM journal WHERE type IN ('purchase', 'survey')") as Int64?)
        let survey = EventEnvelope(eventId: "dash-survey-1", occurredAt: Timestamp(epochMilliseconds: last + 60_000), source: "pos/S002/T1",
                                   payload: .survey(Survey(storeId: "S002", customerId: "C999999", nps: 2, drivers: ["serviceLevel": 1])))
        #expect(try client.publish(Sample.bytes(survey), eventId: survey.eventId).status == .stored)

        // Everything applied and scored, then the page shows each panel's data.
        let head = try #require(CustomerScoringProcessTests.value(project.journalPath, "SELECT MAX(seq) FROM journal") as Int64?)
        let caughtUp = waitUntil(seconds: 120) {
            ["customer-scoring", "satisfaction", "discount-campaigns"].allSatisfy {
                ((CustomerScoringProcessTests.value(project.database(of: $0), "SELECT appliedSeq FROM runtime_cursor") as Int64?) ?? 0) >= head
            }
        }
        try #require(caughtUp, "the plugins did not catch up: \(project.log("up.log").suffix(3000))")
        let best = try #require(CustomerScoringProcessTests.value(project.database(of: "customer-scoring"),
                                                                   "SELECT customerId FROM scoring_scores ORDER BY clvValue DESC, customerId LIMIT 1") as String?)
        var page = ""
        let complete = waitUntil(seconds: 30) {
            page = Self.fetch(base + "/") ?? ""
            // The best customer in the top-customers table (its id also appears in alerts), the campaign rows,
            // the chart, the alert: the snapshot can lag the plugins' files by one collection pass.
            return page.contains("poor-service") && page.contains("<tr><td>\(best)</td><td class=\"num\">") && page.contains("<svg")
                && page.contains("morning-coffee")
        }
        #expect(complete, "the page lacks a panel's data: \(page.prefix(6000))")
        #expect(page.contains(#"<meta http-equiv="refresh""#))
        #expect(page.contains("Service level scored 3 or lower (customer C999999 at S002 scored 2)"))   // the alert's message
        #expect(page.contains("Standing now (latest first): "))
        for store in ["S001", "S002", "S003"] { #expect(page.contains("<td><span class=\"legend\" style=\"background:#") && page.contains(">\(store)</td>")) }
        #expect(page.contains("whole chain"))
        for component in ["bus", "customer-scoring", "satisfaction", "discount-campaigns"] {
            #expect(page.contains(#"<tr class="component" data-name="\#(component)"><td>\#(component)</td><td class="ok">running</td>"#), "\(component)")
        }
        #expect(!page.contains(#"class="down""#), "a panel says its source is down: \(page)")

        // Headless Chromium: a screenshot of the requested size that is not blank.
        let png = project.root.path + "/dashboard.png"
        let shot = try runProcess(Self.repository + "/scripts/dashboard-screenshot", [base + "/", png, "1280x1800"])
        #expect(shot.status == 0, "\(shot.output)")
        let facts = try Self.pngFacts(png)
        #expect(facts.width == 1280 && facts.height == 1800)
        #expect(facts.colours >= 40, "only \(facts.colours) distinct colours: a blank or unstyled page?")
        let bytes = (try? FileManager.default.attributesOfItem(atPath: png)[.size] as? Int) ?? 0
        #expect(bytes > 60_000, "\(bytes) bytes")
        if let keep = ProcessInfo.processInfo.environment["LOYALTY_DASHBOARD_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: png, toPath: keep)
        }
        // The DOM as the browser built it holds the chart: an SVG with one line per store.
        let profile = project.root.path + "/chromium-profile"
        let dom = try runProcess("/usr/bin/timeout", ["60", chromium!, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                                      "--user-data-dir=" + profile, "--dump-dom", base + "/"])
        #expect(dom.output.contains("<svg"), "\(dom.output.prefix(3000))")
        #expect(dom.output.contains("class=\"chart\""))
        #expect(dom.output.components(separatedBy: "<polyline").count - 1 >= 3)
        #expect(dom.output.contains("poor-service"))
    }
}
