import Synchronization

/// Small numbers for texts, the same for texts that are equal as Swift compares them (canonical
/// equivalence, so "\u{212A}" and "K" get one number): two texts with numbers are equal exactly
/// when their numbers are. Compiled line conditions (`category == "coffee"`, `sku in [...]`) then
/// compare a line's number with the constant's, not its text, when the line has one; comparing
/// unequal texts was most of the cost of a line condition.
///
/// Process-wide, since rules are compiled (numbering their constants) before or after the lines
/// they will see are numbered, and it only grows: lines get numbers only where many are evaluated
/// repeatedly (`PurchaseFacts.numberTexts()`, called by the simulation when it prepares events),
/// never in a plugin's per-event path, so it holds the constants of the rules and the categories
/// and skus of the simulated events.
enum TextIds {
    private static let table = Mutex<[String: Int32]>([:])

    static func id(_ text: String) -> Int32 {
        table.withLock { table in
            if let id = table[text] { return id }
            let id = Int32(table.count)
            table[text] = id
            return id
        }
    }
}

extension PurchaseFacts {
    /// Gives the lines' categories and skus their numbers (`TextIds`), which line conditions
    /// then compare instead of the texts. Costs a look-up per text: for facts evaluated many
    /// times, as in a simulation. Changing `sku` or `category` afterwards needs another call.
    public mutating func numberTexts() {
        for i in lines.indices {
            lines[i].categoryId = TextIds.id(lines[i].category)
            lines[i].skuId = TextIds.id(lines[i].sku)
        }
    }
}
