import ArgumentParser
import Foundation
import LoyaltyWire
import ZeroMQ

struct RequestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request",
        abstract: "Call a plugin's service through the bus and print the reply.",
        discussion: """
            Example:
              loyalty request store-counter.count '{"storeId":"S001"}'

            Exit status: 0 ok, 2 the service refused (error), 3 unavailable or timeout.
            """
    )

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The service name, e.g. store-counter.count.") var service: String
    @Argument(help: "The request body (JSON for the shipped plugins).") var body: String = "{}"
    @Option(help: "Milliseconds the bus waits for the plugin.") var timeoutMs = 3000

    func run() throws {
        let configuration = try options.loadConfiguration()
        let context = try ZMQContext()
        let client = try BusClient(context: context, endpoint: configuration.bus.ingest, options: try configuration.clientSocketOptions())
        do {
            let reply = try client.request(service: service, body: Array(body.utf8), timeoutMilliseconds: timeoutMs)
            switch reply.status {
            case .ok:
                print(reply.bodyText)
            case .error:
                printError("\(service) refused: \(reply.bodyText)")
                throw ExitCode(2)
            case .unavailable, .timeout:
                printError("\(service) \(reply.status.rawValue): \(reply.bodyText)")
                throw ExitCode(3)
            }
        } catch let error as BusClientError {
            printError("\(error)")
            throw ExitCode(3)
        }
    }
}
