import ArgumentParser
import Foundation
import LoyaltyEvents
import LoyaltyWire
import ZeroMQ

/// `loyalty campaigns codes generate|import`: coupon codes for campaigns with `code: required`,
/// handed to the running discount-campaigns plugin (`campaign.codes.import` through the bus).
struct CampaignsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaigns",
        abstract: "Discount campaigns: coupon codes.",
        subcommands: [CodesCommand.self]
    )

    struct CodesCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "codes",
            abstract: "Issue coupon codes for a campaign with 'code: required' (needs the discount-campaigns plugin running).",
            subcommands: [Generate.self, Import.self]
        )
    }

    /// Letters and digits that cannot be mistaken for one another (no 0/O, 1/I/L), as the plugin's.
    static let alphabet = Array("ABCDEFGHJKMNPQRSTUVWXYZ23456789")

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate random codes (system secure random), register them with the plugin, and write them out.",
            discussion: """
                Examples:
                  loyalty campaigns codes generate --campaign welcome-50 --count 5000 \\
                      --output codes.csv
                  loyalty campaigns codes generate --campaign staff --count 10 \\
                      --prefix STAFF- --max-uses 100
                """
        )
        @OptionGroup var options: GlobalOptions
        @Option(help: "The campaign's id (it must have 'code: required').") var campaign: String
        @Option(help: "How many codes.") var count: Int
        @Option(help: "Random characters per code (after the prefix).") var length = 10
        @Option(help: "Text before the random part, e.g. XMAS-.") var prefix = ""
        @Option(help: "Uses per code: 1 for single use.") var maxUses = 1
        @Option(help: "Write the codes to this file, one a line (default: standard output).") var output: String?

        func validate() throws {
            guard (1...1_000_000).contains(count) else { throw ValidationError("--count must be from 1 to 1000000") }
            guard (6...32).contains(length) else { throw ValidationError("--length must be from 6 to 32 (6 gives 887 million codes)") }
            guard maxUses >= 1 else { throw ValidationError("--max-uses must be at least 1") }
            guard prefix.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F }),
                  prefix.count + length <= 64 else {
                throw ValidationError("--prefix may hold letters, digits, - and _, and prefix plus length at most 64 characters")
            }
        }

        func run() throws {
            var generator = SystemRandomNumberGenerator()
            var seen = Set<String>()
            var codes: [String] = []
            while codes.count < count {
                let code = prefix.uppercased() + String((0..<length).map { _ in CampaignsCommand.alphabet[Int(generator.next(upperBound: UInt64(CampaignsCommand.alphabet.count)))] })
                if seen.insert(code).inserted { codes.append(code) }
            }
            let result = try CampaignsCommand.send(codes, campaign: campaign, maxUses: maxUses, options: options)
            let text = codes.joined(separator: "\n") + "\n"
            if let output {
                try text.write(toFile: output, atomically: true, encoding: .utf8)
                printError("\(result.imported) codes for '\(campaign)' registered, written to \(output)")
            } else {
                print(text, terminator: "")
                printError("\(result.imported) codes for '\(campaign)' registered")
            }
            if result.imported != codes.count { printError("\(codes.count - result.imported) codes were already registered (random collision with an older batch)") }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register codes from a file (one a line, or the first column of a CSV; a header line 'code' is skipped).",
            discussion: """
                Codes are compared ignoring case and stored in upper case. Importing the same file twice changes nothing.

                Example:
                  loyalty campaigns codes import --campaign welcome-50 partner-codes.csv
                """
        )
        @OptionGroup var options: GlobalOptions
        @Option(help: "The campaign's id (it must have 'code: required').") var campaign: String
        @Option(help: "Uses per code: 1 for single use.") var maxUses = 1
        @Argument(help: "The file.") var file: String

        func run() throws {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw ValidationError("cannot read \(file) as UTF-8 text") }
            var codes: [String] = []
            for (n, raw) in text.split(whereSeparator: \.isNewline).enumerated() {
                let first = raw.split(separator: ",", omittingEmptySubsequences: false).first.map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \"\t")) } ?? ""
                if first.isEmpty || (n == 0 && first.lowercased() == "code") { continue }
                guard first.utf8.count <= 64, first.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F }) else {
                    throw ValidationError("\(file):\(n + 1): '\(first.prefix(70))' is not a code (1-64 letters, digits, - or _)")
                }
                codes.append(first)
            }
            guard !codes.isEmpty else { throw ValidationError("\(file): no codes found") }
            let result = try CampaignsCommand.send(codes, campaign: campaign, maxUses: maxUses, options: options)
            print("\(result.imported) codes imported for '\(campaign)', \(result.alreadyThere) already there\(result.otherCampaign > 0 ? ", \(result.otherCampaign) refused: they belong to another campaign" : "")")
        }
    }

    struct Sent { var imported = 0, alreadyThere = 0, otherCampaign = 0 }

    /// Sends the codes in batches of 10,000 to `campaign.codes.import`.
    static func send(_ codes: [String], campaign: String, maxUses: Int, options: GlobalOptions) throws -> Sent {
        let configuration = try options.loadConfiguration()
        let context = try ZMQContext()
        let client = try BusClient(context: context, endpoint: configuration.bus.ingest, options: try configuration.clientSocketOptions())
        var sent = Sent()
        var start = 0
        while start < codes.count {
            let batch = codes[start..<min(codes.count, start + 10_000)]
            start += batch.count
            let body: JSONValue = .object(["campaign": .string(campaign), "maxUses": .int(Int64(maxUses)), "codes": .array(batch.map { .string($0) })])
            let reply: Reply
            do {
                reply = try client.request(service: "campaign.codes.import", body: JSONWriter.serialize(body), timeoutMilliseconds: 30_000)
            } catch {
                printError("\(error)")
                throw ExitCode(3)
            }
            switch reply.status {
            case .ok: break
            case .error:
                printError("campaign.codes.import refused: \(reply.bodyText)")
                throw ExitCode(2)
            case .unavailable, .timeout:
                printError("campaign.codes.import \(reply.status.rawValue): \(reply.bodyText) (is discount-campaigns enabled in config/loyalty.yaml and 'loyalty up' running?)")
                throw ExitCode(3)
            }
            guard case .object(let answer)? = try? JSONParser.parse(reply.body) else { throw ExitCode(3) }
            if case .int(let n)? = answer["imported"] { sent.imported += Int(n) }
            if case .int(let n)? = answer["alreadyThere"] { sent.alreadyThere += Int(n) }
            if case .int(let n)? = answer["otherCampaignCount"] { sent.otherCampaign += Int(n) }
        }
        return sent
    }
}

/// `loyalty report campaigns`: per campaign, redemptions, discount given and budget left, asked
/// of the running discount-campaigns plugin (`campaign.report`).
struct CampaignsReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaigns",
        abstract: "Per campaign: redemptions, discount given, budget and redemptions left, codes used (from the discount-campaigns plugin).",
        discussion: """
            Money is in minor units of the rules' currency in --json, in whole units in the table.

            Examples:
              loyalty report campaigns
              loyalty report campaigns --json
            """
    )
    @OptionGroup var options: GlobalOptions
    @Flag(help: "The plugin's JSON answer instead of a table.") var json = false

    func run() throws {
        let configuration = try options.loadConfiguration()
        let reply = try askReport("campaign.report", body: Array("{}".utf8), configuration: configuration, plugin: "discount-campaigns")
        if json {
            print(reply.bodyText)
            return
        }
        guard case .object(let report)? = try? JSONParser.parse(reply.body), case .array(let campaigns)? = report["campaigns"] else {
            printError("campaign.report answered something unexpected: \(reply.bodyText.prefix(200))")
            throw ExitCode(3)
        }
        var currency = ""
        if case .string(let code)? = report["currency"] { currency = " " + code }
        func int(_ o: JSONObject, _ key: String) -> Int64? { if case .int(let n)? = o[key] { n } else { nil } }
        func money(_ value: Int64?) -> String { value.map { String(format: "%.2f", Double($0) / 100) } ?? "-" }
        let header = ["campaign", "redemptions", "discount\(currency)", "budget left", "redemptions left", "codes used"]
        var rows: [[String]] = []
        for case .object(let c) in campaigns {
            guard case .string(let id)? = c["campaign"] else { continue }
            let inRules = c["inRules"] == .bool(true)
            rows.append([
                id + (inRules ? "" : " (no longer in the rules)"),
                String(int(c, "redemptions") ?? 0), money(int(c, "discount")),
                int(c, "budget").map { _ in money(int(c, "budgetLeft")) } ?? "no limit",
                int(c, "maxRedemptions").map { _ in String(int(c, "redemptionsLeft") ?? 0) } ?? "no limit",
                int(c, "codesIssued").map { "\(int(c, "codeUses") ?? 0) of \($0)" } ?? "-",
            ])
        }
        let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in i == 0 ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                : String(repeating: " ", count: widths[i] - cell.count) + cell }.joined(separator: "  ")
        }
        print(line(header))
        for row in rows { print(line(row)) }
        if rows.isEmpty { print("(no campaigns in the rules)") }
    }
}
