import ZeroMQ

/// Which plugin workers offer which service, whether they are alive, and the requests they owe
/// an answer to (the broker half of the ZeroMQ Guide's Majordomo pattern). Plain state, owned
/// by the front thread.
struct ServiceDirectory {
    struct Worker {
        var routingId: Frame
        var services: Set<String>
        var lastHeard: Int
    }

    struct PendingRequest {
        var client: Frame
        var requestId: String
        var service: String
        var worker: Frame
        var deadline: Int
    }

    private(set) var workers: [Frame: Worker] = [:]
    /// Round-robin order of the workers of each service.
    private var rotation: [String: [Frame]] = [:]
    private(set) var pending: [UInt64: PendingRequest] = [:]
    private var nextToken: UInt64 = 0

    mutating func register(worker routingId: Frame, services: [String], now: Int) {
        var worker = workers[routingId] ?? Worker(routingId: routingId, services: [], lastHeard: now)
        worker.lastHeard = now
        for service in services where !worker.services.contains(service) {
            worker.services.insert(service)
            rotation[service, default: []].append(routingId)
        }
        workers[routingId] = worker
    }

    /// Any message from a worker proves it alive. Returns false for an unknown peer.
    @discardableResult
    mutating func heard(from routingId: Frame, now: Int) -> Bool {
        guard workers[routingId] != nil else { return false }
        workers[routingId]!.lastHeard = now
        return true
    }

    /// Removes a worker; returns the requests it still owed, to be answered as unavailable.
    mutating func remove(worker routingId: Frame) -> [PendingRequest] {
        guard let worker = workers.removeValue(forKey: routingId) else { return [] }
        for service in worker.services {
            rotation[service]?.removeAll { $0 == routingId }
            if rotation[service]?.isEmpty == true { rotation[service] = nil }
        }
        let owed = pending.filter { $0.value.worker == routingId }
        for token in owed.keys { pending[token] = nil }
        return Array(owed.values)
    }

    /// Picks the next worker of a service and records the request. Nil when none is alive.
    mutating func dispatch(service: String, client: Frame, requestId: String, deadline: Int) -> (token: UInt64, worker: Frame)? {
        guard var queue = rotation[service], !queue.isEmpty else { return nil }
        let worker = queue.removeFirst()
        queue.append(worker)
        rotation[service] = queue
        nextToken += 1
        pending[nextToken] = PendingRequest(client: client, requestId: requestId, service: service, worker: worker, deadline: deadline)
        return (nextToken, worker)
    }

    mutating func complete(token: UInt64, from worker: Frame) -> PendingRequest? {
        guard let request = pending[token], request.worker == worker else { return nil }
        pending[token] = nil
        return request
    }

    /// Workers not heard from since `cutoff`.
    func silentWorkers(since cutoff: Int) -> [Frame] {
        workers.values.filter { $0.lastHeard < cutoff }.map(\.routingId)
    }

    mutating func expireRequests(now: Int) -> [PendingRequest] {
        let expired = pending.filter { $0.value.deadline <= now }
        for token in expired.keys { pending[token] = nil }
        return Array(expired.values)
    }

    var serviceNames: [String] { rotation.keys.sorted() }
}
