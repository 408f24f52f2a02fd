import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// How a request proves it may see the dashboard, decided without any I/O.
///
/// - `Authorization: Bearer <token>`: scripts and Prometheus (`authorization: {credentials_file: …}`).
/// - `?token=<token>` (a browser's first visit, the address `loyalty dashboard token` prints):
///   answered with a cookie and a redirect to the same address without the token, so the token
///   leaves the address bar and the history.
/// - the cookie, on every later request from that browser.
enum DashboardAuth {
    static let cookieName = "loyalty_dashboard"
    static let queryName = "token"
    /// 30 days: a wall screen in a back office keeps working; rotating the token ends it sooner.
    static let cookieMaxAgeSeconds = 30 * 86_400

    enum Decision: Equatable {
        case allow
        /// Set the cookie and send the browser to `location` (the same path and query, minus the token).
        case redirect(location: String)
        case refuse(Refusal)
    }

    enum Refusal: Equatable {
        /// No credential at all.
        case missing
        /// A credential that is not the token (stale bookmark, rotated token, a guess).
        case wrong
    }

    static func decide(token: DashboardToken, path: String, query: String?, authorization: [String], cookies: [String]) -> Decision {
        if let query, let sent = queryValue(named: queryName, in: query) {
            guard token.matches(sent) else { return .refuse(.wrong) }
            return .redirect(location: location(path: path, query: query))
        }
        if let header = authorization.first {
            guard let sent = bearer(header), token.matches(sent) else { return .refuse(.wrong) }
            return .allow
        }
        if let sent = cookieValue(named: cookieName, in: cookies) {
            return token.matches(sent) ? .allow : .refuse(.wrong)
        }
        return .refuse(.missing)
    }

    /// `Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1).
    static func bearer(_ header: String) -> Substring? {
        let trimmed = header.drop(while: { $0 == " " })
        guard trimmed.count > 7, trimmed.prefix(7).lowercased() == "bearer " else { return nil }
        return trimmed.dropFirst(7).drop(while: { $0 == " " })
    }

    static func queryValue(named name: String, in query: String) -> String? {
        for item in query.split(separator: "&") {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts[0] == name {
                let value = parts.count > 1 ? String(parts[1]) : ""
                return value.removingPercentEncoding ?? value
            }
        }
        return nil
    }

    static func cookieValue(named name: String, in headers: [String]) -> Substring? {
        for header in headers {
            for pair in header.split(separator: ";") {
                let pair = pair.drop(while: { $0 == " " })
                guard let equals = pair.firstIndex(of: "=") else { continue }
                if pair[..<equals] == name { return pair[pair.index(after: equals)...] }
            }
        }
        return nil
    }

    /// The same address without the token. A path starting with `//` would read as another host
    /// in `Location`, so it is kept to one leading slash.
    static func location(path: String, query: String) -> String {
        var cleanPath = "/" + path.drop(while: { $0 == "/" })
        let rest = query.split(separator: "&").filter { $0.split(separator: "=", maxSplits: 1).first.map(String.init) != queryName }
        if !rest.isEmpty { cleanPath += "?" + rest.joined(separator: "&") }
        return cleanPath
    }

    static func cookie(_ token: DashboardToken) -> String {
        // No `Secure`: the dashboard speaks plain HTTP (docs/dashboard.md says to put a TLS proxy in front).
        "\(cookieName)=\(token.text); Path=/; Max-Age=\(cookieMaxAgeSeconds); HttpOnly; SameSite=Strict"
    }

    static func refusalBody(_ refusal: Refusal) -> String {
        let first = switch refusal {
        case .missing: "This dashboard needs its access token."
        case .wrong: "The access token sent is not this dashboard's (it may have been rotated)."
        }
        return first + "\n"
            + "On the engine's host, `loyalty dashboard token` prints the address to open (it ends in ?token=...); "
            + "open it once in this browser.\n"
            + "Scripts and Prometheus send the header `Authorization: Bearer <token>` (see docs/dashboard.md).\n"
    }
}

/// Applies `DashboardAuth` to every route while the gate holds a token; lets everything through
/// while it holds none (an open dashboard on loopback).
struct DashboardAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let gate: DashboardTokenGate
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token = gate.token else { return try await next(request, context) }
        let decision = DashboardAuth.decide(token: token, path: request.uri.path, query: request.uri.query,
                                            authorization: request.headers[values: .authorization],
                                            cookies: request.headers[values: .cookie])
        switch decision {
        case .allow:
            return try await next(request, context)
        case .redirect(let location):
            return Response(status: .seeOther, headers: [
                .location: location,
                .setCookie: DashboardAuth.cookie(token),
                .cacheControl: "no-store",
                HTTPField.Name("Referrer-Policy")!: "no-referrer",
            ])
        case .refuse(let refusal):
            // The path only: the query may hold a (wrong) token, and tokens are never logged.
            logger.info("dashboard: refused \(request.method) \(request.uri.path): \(refusal == .missing ? "no access token" : "wrong access token")")
            let challenge = refusal == .missing ? #"Bearer realm="loyalty-dashboard""# : #"Bearer realm="loyalty-dashboard", error="invalid_token""#
            return Response(status: .unauthorized,
                            headers: [
                                .wwwAuthenticate: challenge,
                                .contentType: "text/plain; charset=utf-8",
                                .cacheControl: "no-store",
                            ],
                            body: .init(byteBuffer: ByteBuffer(string: DashboardAuth.refusalBody(refusal))))
        }
    }
}
