import GRDB
import LoyaltyEvents
import LoyaltyRules
import PluginRuntime

/// Issued coupon codes: imported in batches by `loyalty campaigns codes import|generate`
/// through the `campaign.codes.import` service, used up by purchases at commit.
public enum CouponCodes {
    /// Letters and digits that cannot be mistaken for one another (no 0/O, 1/I/L).
    public static let alphabet = Array("ABCDEFGHJKMNPQRSTUVWXYZ23456789")
    public static let maxBatch = 10_000

    /// `count` random codes of `length` characters after `prefix`, from the system's secure generator.
    public static func generate(count: Int, length: Int = 10, prefix: String = "") -> [String] {
        var generator = SystemRandomNumberGenerator()
        var codes = Set<String>()
        var ordered: [String] = []
        while ordered.count < count {
            let code = prefix.uppercased() + String((0..<length).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
            if codes.insert(code).inserted { ordered.append(code) }
        }
        return ordered
    }

    /// A code as stored: 1-64 letters, digits, - or _, upper case.
    static func check(_ raw: String) -> String? {
        let code = CampaignPolicy.normalise(code: raw)
        guard !code.isEmpty, code.utf8.count <= 64,
              code.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || $0 == 0x2D || $0 == 0x5F }) else { return nil }
        return code
    }

    /// `{"campaign":"welcome","codes":["AB12...",...],"maxUses":1}` → `{"imported":N,"alreadyThere":N}`.
    static func importCodes(_ body: [UInt8], pool: DatabasePool, book: RuleBook, memory: Memory, now: Int64) throws -> ServiceResponse {
        guard case .object(let o)? = try? JSONParser.parse(body) else {
            return .error("expected a JSON object such as {\"campaign\":\"welcome-10\",\"codes\":[\"K7QW2MZP9A\"],\"maxUses\":1}")
        }
        for key in o.keys where !["campaign", "codes", "maxUses"].contains(key) {
            return .error("unknown field '\(key)'; the fields are campaign, codes, maxUses")
        }
        guard case .string(let campaign)? = o["campaign"] else { return .error("'campaign' is required: the id of a campaign with code: required") }
        guard let rule = book.campaigns?.rules.first(where: { $0.header.id == campaign }) else {
            return .error("'campaign': no campaign '\(campaign)' in the rules in force (version \(book.version))")
        }
        guard rule.code == .issued else {
            return .error("'campaign': campaign '\(campaign)' does not take issued codes; give it 'code: required' in \(rule.header.file):\(rule.header.line)")
        }
        var maxUses = 1
        switch o["maxUses"] {
        case nil, .null?: break
        case .int(let n)? where n >= 1 && n <= 1_000_000_000: maxUses = Int(n)
        case let other?: return .error("'maxUses' must be a whole number from 1 (single use) up, got \(other)")
        }
        guard case .array(let items)? = o["codes"], !items.isEmpty, items.count <= maxBatch else {
            return .error("'codes' must be an array of 1 to \(maxBatch) codes")
        }
        var codes: [String] = []
        for (n, item) in items.enumerated() {
            guard case .string(let raw) = item, let code = check(raw) else {
                return .error("'codes[\(n)]' must be 1-64 letters, digits, - or _")
            }
            codes.append(code)
        }
        let (imported, conflicts) = try pool.write { db -> (Int, [String]) in
            var imported = 0
            var conflicts: [String] = []
            var changes = Changes()
            for code in codes {
                try db.execute(sql: """
                    INSERT INTO coupon_codes (code, campaignId, maxUses, uses, importedAt) VALUES (?, ?, ?, 0, ?)
                    ON CONFLICT(code) DO NOTHING
                    """, arguments: [code, campaign, maxUses, now])
                if db.changesCount > 0 {
                    imported += 1
                    changes.codes.append((code, IssuedCode(campaignId: campaign, maxUses: maxUses, uses: 0)))
                } else if let owner = try String.fetchOne(db, sql: "SELECT campaignId FROM coupon_codes WHERE code = ?", arguments: [code]), owner != campaign {
                    conflicts.append(code)
                }
            }
            memory.publish(changes, onCommitOf: db)
            return (imported, conflicts)
        }
        var answer: JSONObject = ["campaign": .string(campaign), "imported": .int(Int64(imported)),
                                  "alreadyThere": .int(Int64(codes.count - imported - conflicts.count))]
        if !conflicts.isEmpty {
            answer["otherCampaign"] = .array(conflicts.prefix(20).map { .string($0) })
            answer["otherCampaignCount"] = .int(Int64(conflicts.count))
        }
        return .ok(JSONWriter.serialize(.object(answer)))
    }
}

/// `campaign.report`: per campaign, redemptions, discount given, and what is left of its limits.
enum CampaignReport {
    static func make(pool: DatabasePool, book: RuleBook) throws -> ServiceResponse {
        let rows = try pool.read { db -> [JSONValue] in
            var usage: [String: (Int64, Int64)] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT campaignId, redemptions, discount FROM campaign_usage") {
                usage[row[0]] = (row[1], row[2])
            }
            var codes: [String: (Int64, Int64)] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT campaignId, COUNT(*), SUM(uses) FROM coupon_codes GROUP BY campaignId") {
                codes[row[0]] = (row[1], row[2])
            }
            var seen = Set<String>()
            var result: [JSONValue] = []
            for rule in book.campaigns?.rules ?? [] {
                let id = rule.header.id
                seen.insert(id)
                let (redemptions, discount) = usage[id] ?? (0, 0)
                var item: JSONObject = ["campaign": .string(id), "inRules": .bool(true), "priority": .int(Int64(rule.header.priority)),
                                        "redemptions": .int(redemptions), "discount": .int(discount)]
                if let description = rule.header.description { item["description"] = .string(description) }
                if let budget = rule.budget {
                    item["budget"] = .int(Int64(budget))
                    item["budgetLeft"] = .int(max(0, Int64(budget) - discount))
                }
                if let limit = rule.maxRedemptions {
                    item["maxRedemptions"] = .int(Int64(limit))
                    item["redemptionsLeft"] = .int(max(0, Int64(limit) - redemptions))
                }
                if let (issued, used) = codes[id] {
                    item["codesIssued"] = .int(issued)
                    item["codeUses"] = .int(used)
                }
                result.append(.object(item))
            }
            // Campaigns no longer in the rules still show what they gave.
            for (id, (redemptions, discount)) in usage.sorted(by: { $0.key < $1.key }) where !seen.contains(id) {
                result.append(.object(["campaign": .string(id), "inRules": .bool(false), "redemptions": .int(redemptions), "discount": .int(discount)]))
            }
            return result
        }
        let answer: JSONObject = ["rulesVersion": .string(book.version), "currency": book.currency.map { .string($0.code) } ?? .null,
                                  "campaigns": .array(rows)]
        return .ok(JSONWriter.serialize(.object(answer)))
    }
}
