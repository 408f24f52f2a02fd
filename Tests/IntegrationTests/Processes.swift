import Foundation
import LoyaltyTestSupport
import LoyaltyWire

/// The executables `swift build` put next to this test bundle.
enum Executables {
    static var directory: String {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (me as NSString).deletingLastPathComponent
    }
    static var loyalty: String { directory + "/loyalty" }
    static var storeCounter: String { directory + "/store-counter" }
    static var pointsAccrual: String { directory + "/points-accrual" }
}

/// A project folder of its own: config/loyalty.yaml on free loopback ports, the store-counter
/// manifest, and var/ for the SQLite files.
struct TestProject {
    let root: TemporaryDirectory
    let ports: (ingest: Int, publish: Int, replay: Int)

    init(plugins: [String] = ["store-counter"]) throws {
        root = try TemporaryDirectory("loyalty-it")
        ports = (freeLoopbackPort(), freeLoopbackPort(), freeLoopbackPort())
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: root.path + "/config/rules", withIntermediateDirectories: true)
        try fileManager.createDirectory(atPath: root.path + "/plugins/store-counter", withIntermediateDirectories: true)
        try fileManager.createDirectory(atPath: root.path + "/plugins/points-accrual", withIntermediateDirectories: true)
        try """
            bus:
              ingest: tcp://127.0.0.1:\(ports.ingest)
              publish: tcp://127.0.0.1:\(ports.publish)
              replay: tcp://127.0.0.1:\(ports.replay)
            dataDir: var
            plugins:
              directory: plugins
              enabled: [\(plugins.joined(separator: ", "))]
            """.write(toFile: configPath, atomically: true, encoding: .utf8)
        try """
            name: points-accrual
            executable: \(Executables.pointsAccrual)
            topics:
              in: [purchase, survey]
              out: [points.accrued, rules.activated, alert.config]
            services: [points.balance, points-accrual.rules]
            """.write(toFile: root.path + "/plugins/points-accrual/plugin.yaml", atomically: true, encoding: .utf8)
        try """
            name: store-counter
            executable: \(Executables.storeCounter)
            topics:
              in: [purchase, return]
              out: [store.milestone]
            services: [store-counter.count]
            """.write(toFile: root.path + "/plugins/store-counter/plugin.yaml", atomically: true, encoding: .utf8)
    }

    var configPath: String { root.path + "/config/loyalty.yaml" }
    var rulesDirectory: String { root.path + "/config/rules" }
    var ingest: String { "tcp://127.0.0.1:\(ports.ingest)" }
    var journalPath: String { root.path + "/var/journal.sqlite" }
    var pluginDatabase: String { root.path + "/var/plugins/store-counter.sqlite" }
    func database(of plugin: String) -> String { root.path + "/var/plugins/\(plugin).sqlite" }
    var supervisorState: String { root.path + "/var/run/supervisor.json" }

    /// Starts `loyalty <arguments> --config <this project>` with output to a log file.
    func start(_ arguments: [String], log: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Executables.loyalty)
        process.arguments = arguments + ["--config", configPath]
        process.currentDirectoryURL = URL(fileURLWithPath: root.path)
        FileManager.default.createFile(atPath: root.path + "/" + log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: root.path + "/" + log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// What `loyalty up` wrote about its children in the supervisor's state file.
    struct SupervisedChildren: Decodable {
        struct Child: Decodable { var name: String; var pid: Int32?; var running: Bool; var restarts: Int }
        var children: [Child]
    }

    var supervised: SupervisedChildren? {
        guard let data = FileManager.default.contents(atPath: supervisorState) else { return nil }
        return try? JSONDecoder().decode(SupervisedChildren.self, from: data)
    }

    /// The pid of a running child of `loyalty up`, by name.
    func pid(of name: String) -> Int32? {
        guard let child = supervised?.children.first(where: { $0.name == name }), child.running else { return nil }
        return child.pid
    }

    /// Restarts so far, by child name.
    func restarts() -> [String: Int] {
        Dictionary(uniqueKeysWithValues: (supervised?.children ?? []).map { ($0.name, $0.restarts) })
    }

    func log(_ name: String) -> String {
        (try? String(contentsOfFile: root.path + "/" + name, encoding: .utf8)) ?? ""
    }
}

/// Runs a command to completion and returns its exit status and output.
@discardableResult
func runProcess(_ executable: String, _ arguments: [String], input: String? = nil, workingDirectory: String? = nil,
                environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
    if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    let stdin = Pipe()
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
