import Foundation
import Hummingbird
import TillyardKit

/// The body of `PUT /parameter-templates/{level}/{target}`: the values (null removes a key set
/// by a more general level) and the version it replaces (0 to create).
struct TemplateInput: APIInput {
    var values: [String: String?]
    var version: Int
    enum CodingKeys: String, CodingKey, CaseIterable { case values, version }
    typealias Field = CodingKeys
}

/// The body of `POST /terminals/{id}/lock`.
struct LockInput: APIInput {
    var reason: String
    enum CodingKeys: String, CodingKey, CaseIterable { case reason }
    typealias Field = CodingKeys
}

/// The body of `POST /terminals/{id}/unlock` and `POST /relocation-alerts/{id}/clear`.
struct NoteInput: APIInput {
    var note: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case note }
    typealias Field = CodingKeys
}

/// The body of `POST /terminals/{id}/commands`.
struct CommandInput: APIInput {
    var kind: TerminalCommandKind
    var reason: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case kind, reason }
    typealias Field = CodingKeys
}

/// `PUT /relocation-policy` takes the whole policy.
extension RelocationPolicy: APIInput {
    public enum Field: String, CodingKey, CaseIterable { case fixedToleranceMeters, mobileToleranceMeters, confirmations, action }
}

extension CommandAck: APIInput {
    public typealias Field = CodingKeys
}

extension TransactionUpload: APIInput {
    public typealias Field = CodingKeys
}

/// What a terminal fetches: its effective values and their version.
struct TerminalParametersBody: Codable, Sendable {
    var version: String
    var values: [String: String]
}

/// A terminal's commands and lock, for operators.
struct CommandsBody: Codable, Sendable {
    var lock: TerminalLock?
    var commands: [TerminalCommand]
}

/// Online and silent terminals of one organisation.
struct PresenceBody: Codable, Sendable {
    var orgId: String
    var name: String
    var path: String
    var deployed: Int
    var online: Int
    var offline: Int
    var neverSeen: Int
}

/// Fleet operations over HTTP: parameter templates, commands and locks, relocation policy and
/// alerts, uploaded transactions and presence under `/api/v1`; parameters, command
/// acknowledgements and transaction uploads under the signed `/terminal/v1`.
struct FleetOperationsAPI {
    let fleet: FleetService
    let routes: APIRoutes

    func register(api: RouterGroup<AppRequestContext>, terminal: RouterGroup<AppRequestContext>) {
        let fleet = self.fleet
        let routes = self.routes

        api.get("parameter-templates") { request, context in
            let principal = try context.requirePrincipal()
            let level = try request.query("level").map { try Self.level($0) }
            return try JSONResponse.make(PageBody(Page(items: try await fleet.templates(level: level, by: principal), nextCursor: nil)) { $0 })
        }
        api.get("parameter-templates/:level/:target") { _, context in
            let principal = try context.requirePrincipal()
            let (level, target) = try Self.templateKey(context)
            guard let template = try await fleet.template(level: level, target: target, by: principal) else {
                throw DomainError.notFound(resource: "parameter template", id: "\(level.rawValue)/\(target)")
            }
            return try JSONResponse.make(template)
        }
        api.put("parameter-templates/:level/:target") { request, context in
            let (level, target) = try Self.templateKey(context)
            return try await routes.update(request, context) { (input: TemplateInput, principal) in
                try await fleet.saveTemplate(level: level, target: target, values: input.values, replacing: input.version, by: principal)
            }
        }
        api.delete("parameter-templates/:level/:target") { request, context in
            let principal = try context.requirePrincipal()
            let (level, target) = try Self.templateKey(context)
            guard let version = request.query("version").flatMap(Int.init) else {
                throw DomainError.invalid("version", "give the version you delete (?version=N)")
            }
            try await fleet.deleteTemplate(level: level, target: target, version: version, by: principal)
            return Response(status: .noContent)
        }
        api.get("terminals/:id/parameters") { _, context in
            let principal = try context.requirePrincipal()
            return try JSONResponse.make(try await fleet.effectiveParameters(of: try context.id("id", resource: "terminal"), by: principal))
        }
        api.post("terminals/:id/lock") { request, context in
            let id: TerminalID = try context.id("id", resource: "terminal")
            return try await routes.update(request, context) { (input: LockInput, principal) in
                try await fleet.lock(id, reason: input.reason, by: principal)
            }
        }
        api.post("terminals/:id/unlock") { request, context in
            let id: TerminalID = try context.id("id", resource: "terminal")
            return try await routes.update(request, context) { (input: NoteInput, principal) in
                try await fleet.unlock(id, note: input.note, by: principal)
                let (commands, lock) = try await fleet.commands(of: id, by: principal)
                return CommandsBody(lock: lock, commands: commands)
            }
        }
        api.post("terminals/:id/commands") { request, context in
            let id: TerminalID = try context.id("id", resource: "terminal")
            return try await routes.create(request, context) { (input: CommandInput, principal) in
                try await fleet.command(input.kind, to: id, reason: input.reason, by: principal)
            }
        }
        api.get("terminals/:id/commands") { _, context in
            let principal = try context.requirePrincipal()
            let (commands, lock) = try await fleet.commands(of: try context.id("id", resource: "terminal"), by: principal)
            return try JSONResponse.make(CommandsBody(lock: lock, commands: commands))
        }
        api.get("terminals/:id/transactions") { request, context in
            let principal = try context.requirePrincipal()
            let items = try await fleet.transactions(of: try context.id("id", resource: "terminal"), limit: try request.pageRequest().limit, by: principal)
            return try JSONResponse.make(PageBody(Page(items: items, nextCursor: nil)) { $0 })
        }
        api.get("relocation-policy") { _, context in
            try JSONResponse.make(try await fleet.relocationPolicy(by: try context.requirePrincipal()))
        }
        api.put("relocation-policy") { request, context in
            try await routes.update(request, context) { (input: RelocationPolicy, principal) in
                try await fleet.saveRelocationPolicy(input, by: principal)
            }
        }
        api.get("relocation-alerts") { request, context in
            let principal = try context.requirePrincipal()
            let state = try request.query("state").map { raw -> AlertState in
                guard let state = AlertState(rawValue: raw) else { throw DomainError.invalid("state", "must be open or cleared") }
                return state
            }
            let alerts = try await fleet.relocationAlerts(state: state, limit: try request.pageRequest().limit, by: principal)
            return try JSONResponse.make(PageBody(Page(items: alerts, nextCursor: nil)) { $0 })
        }
        api.post("relocation-alerts/:alert/clear") { request, context in
            let alert = context.parameters.get("alert") ?? ""
            return try await routes.update(request, context) { (input: NoteInput, principal) in
                try await fleet.clearAlert(alert, note: input.note ?? "", by: principal)
            }
        }
        api.get("fleet/presence") { _, context in
            let principal = try context.requirePrincipal()
            let rows = try await fleet.presence(by: principal).map {
                PresenceBody(orgId: $0.org.id.rawValue, name: $0.org.name, path: $0.org.path, deployed: $0.presence.deployed,
                             online: $0.presence.online, offline: $0.presence.deployed - $0.presence.online, neverSeen: $0.presence.neverSeen)
            }
            return try JSONResponse.make(PageBody(Page(items: rows, nextCursor: nil)) { $0 })
        }

        terminal.get("parameters") { request, context in
            let (caller, _) = try await TerminalProtocolAPI.authenticate(request, context, fleet: fleet)
            return try JSONResponse.make(TerminalParametersBody(version: caller.context.parameters.version, values: caller.context.parameters.values))
        }
        terminal.post("commands/:command/ack") { request, context in
            let (caller, body) = try await TerminalProtocolAPI.authenticate(request, context, fleet: fleet)
            try await fleet.acknowledge(context.parameters.get("command") ?? "", try JSONIO.decode(CommandAck.self, from: body), from: caller)
            return Response(status: .noContent)
        }
        terminal.post("transactions") { request, context in
            let (caller, body) = try await TerminalProtocolAPI.authenticate(request, context, fleet: fleet)
            return try JSONResponse.make(try await fleet.upload(try JSONIO.decode(TransactionUpload.self, from: body), from: caller))
        }
    }

    static func level(_ raw: String) throws -> ParameterLevel {
        guard let level = ParameterLevel(rawValue: raw) else {
            throw DomainError.invalid("level", "must be one of \(ParameterLevel.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return level
    }

    static func templateKey(_ context: AppRequestContext) throws -> (ParameterLevel, String) {
        (try level(context.parameters.get("level") ?? ""), context.parameters.get("target") ?? "")
    }
}
