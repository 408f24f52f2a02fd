import ArgumentParser
import LoyaltyConfig
import LoyaltyEvents
import LoyaltyWire
import ZeroMQ

/// Asks a plugin's report service through the bus, as `loyalty report ...` commands do: a
/// refusal exits 2, no answer (bus or plugin not running) exits 3 with a hint.
func askReport(_ service: String, body: [UInt8], configuration: LoyaltyConfiguration, plugin hint: String) throws -> Reply {
    let context = try ZMQContext()
    let client = try BusClient(context: context, endpoint: configuration.bus.ingest, options: try configuration.clientSocketOptions())
    let reply: Reply
    do {
        reply = try client.request(service: service, body: body)
    } catch {
        printError("\(error)")
        throw ExitCode(3)
    }
    switch reply.status {
    case .ok: return reply
    case .error:
        printError("\(service) refused: \(reply.bodyText)")
        throw ExitCode(2)
    case .unavailable, .timeout:
        printError("\(service) \(reply.status.rawValue): \(reply.bodyText) (is \(hint) enabled in config/loyalty.yaml and 'loyalty up' running?)")
        throw ExitCode(3)
    }
}
