import Crypto
import Foundation

/// What kind of party caused an audited change.
public enum AuditActorKind: String, Codable, Sendable, CaseIterable {
    case user
    case token
    case terminal
    case system
}

/// Who did it.
public struct AuditActor: Codable, Sendable, Equatable {
    public var kind: AuditActorKind
    public var id: String
    public var name: String

    public init(kind: AuditActorKind, id: String, name: String) {
        self.kind = kind
        self.id = id
        self.name = name
    }

    /// The server itself (start-up, migrations, demo data).
    public static let system = AuditActor(kind: .system, id: "system", name: "system")
}

/// How an audited attempt ended.
public enum AuditOutcome: String, Codable, Sendable, CaseIterable {
    case success
    /// Refused by a permission, tenant or lock-out rule.
    case denied
    /// Attempted but failed (e.g. wrong password).
    case failure
}

/// An event not yet in the chain: what a service wants recorded.
public struct AuditDraft: Sendable, Equatable {
    /// The organisation the change belongs to (for scoping who may read it).
    public var orgId: OrgID
    public var actor: AuditActor
    /// Dotted verb, e.g. `user.create`, `session.login`.
    public var action: String
    public var resourceType: String
    public var resourceId: String
    public var outcome: AuditOutcome
    /// Client IP, terminal id or "cli".
    public var origin: String
    /// Short before/after description: field → "old → new" or a value. Never secrets.
    public var summary: [String: String]

    public init(orgId: OrgID, actor: AuditActor, action: String, resourceType: String, resourceId: String,
                outcome: AuditOutcome = .success, origin: String, summary: [String: String] = [:]) {
        self.orgId = orgId
        self.actor = actor
        self.action = action
        self.resourceType = resourceType
        self.resourceId = resourceId
        self.outcome = outcome
        self.origin = origin
        self.summary = summary
    }
}

/// One link of the tamper-evident audit chain.
public struct AuditEvent: Codable, Sendable, Equatable {
    /// Position in the chain, 1-based, gap-free.
    public var seq: Int64
    public var orgId: OrgID
    /// Organisation path at the time of the event, for subtree filtering.
    public var orgPath: String
    public var at: Date
    public var actor: AuditActor
    public var action: String
    public var resourceType: String
    public var resourceId: String
    public var outcome: AuditOutcome
    public var origin: String
    /// Canonical JSON (sorted keys) of the draft's summary.
    public var summary: String
    public var prevHash: String
    public var hash: String

    public init(seq: Int64, orgId: OrgID, orgPath: String, at: Date, actor: AuditActor, action: String, resourceType: String,
                resourceId: String, outcome: AuditOutcome, origin: String, summary: String, prevHash: String, hash: String) {
        self.seq = seq
        self.orgId = orgId
        self.orgPath = orgPath
        self.at = at
        self.actor = actor
        self.action = action
        self.resourceType = resourceType
        self.resourceId = resourceId
        self.outcome = outcome
        self.origin = origin
        self.summary = summary
        self.prevHash = prevHash
        self.hash = hash
    }
}

/// The hash chain rules: each event's hash covers its own fields and the previous hash, so
/// editing, deleting or reordering any stored event breaks every hash after it.
public enum AuditChain {
    /// The `prevHash` of the first event.
    public static let genesis = String(repeating: "0", count: 64)

    /// Canonical JSON for a summary: sorted keys, so the same summary always hashes the same.
    public static func canonicalSummary(_ summary: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(summary)).flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
    }

    /// The hash of an event given all its other fields.
    public static func hash(of event: AuditEvent) -> String {
        let fields: [String] = [
            String(event.seq), event.orgId.rawValue, event.orgPath, String(EpochMillis.from(event.at)),
            event.actor.kind.rawValue, event.actor.id, event.actor.name, event.action,
            event.resourceType, event.resourceId, event.outcome.rawValue, event.origin, event.summary,
            event.prevHash,
        ]
        // Unit separator between fields: cannot be confused with text inside a field.
        let canonical = fields.joined(separator: "\u{1F}")
        return SHA256.hash(data: Data(canonical.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Builds the next link after `previous` (nil for the first event).
    public static func link(_ draft: AuditDraft, orgPath: String, at: Date, after previous: (seq: Int64, hash: String)?) -> AuditEvent {
        var event = AuditEvent(
            seq: (previous?.seq ?? 0) + 1, orgId: draft.orgId, orgPath: orgPath,
            at: EpochMillis.date(EpochMillis.from(at)), actor: draft.actor, action: draft.action,
            resourceType: draft.resourceType, resourceId: draft.resourceId, outcome: draft.outcome,
            origin: draft.origin, summary: canonicalSummary(draft.summary),
            prevHash: previous?.hash ?? genesis, hash: "")
        event.hash = hash(of: event)
        return event
    }

    /// Why a stored event does not fit the chain.
    public enum Break: Sendable, Equatable, CustomStringConvertible {
        /// A sequence number is missing or out of order (event deleted or inserted).
        case gap(expected: Int64, found: Int64)
        /// `prevHash` does not equal the previous event's hash (event removed or reordered).
        case brokenLink(seq: Int64)
        /// The stored hash does not match the stored fields (event edited).
        case tampered(seq: Int64)

        /// The sequence number the break was found at.
        public var seq: Int64 {
            switch self {
            case .gap(_, let found): return found
            case .brokenLink(let seq), .tampered(let seq): return seq
            }
        }

        public var description: String {
            switch self {
            case .gap(let expected, let found): return "event \(expected) is missing (next stored event is \(found))"
            case .brokenLink(let seq): return "event \(seq) does not link to the event before it"
            case .tampered(let seq): return "event \(seq) was changed after it was written (hash mismatch)"
            }
        }
    }

    /// Incremental verifier: feed events in sequence order, batch by batch.
    public struct Verifier: Sendable {
        public private(set) var checked: Int64 = 0
        private var previousHash = AuditChain.genesis

        public init() {}

        /// The hash of the last event that checked out (the chain's head so far).
        public var headHash: String { previousHash }

        /// Checks the next event; returns the first break found, if any.
        public mutating func check(_ event: AuditEvent) -> Break? {
            let expected = checked + 1
            if event.seq != expected { return .gap(expected: expected, found: event.seq) }
            if event.prevHash != previousHash { return .brokenLink(seq: event.seq) }
            if AuditChain.hash(of: event) != event.hash { return .tampered(seq: event.seq) }
            checked = event.seq
            previousHash = event.hash
            return nil
        }
    }
}

extension AuditChain {
    /// Recomputes a whole chain read in batches by `scan(after seq, limit)` and reports the first break
    /// and the head: `tillyard audit verify`, and backups and restores, which check a copy of the database.
    public static func verify(batchSize: Int = 2000,
                              scan: (Int64, Int) async throws -> [AuditEvent]) async throws -> AuditVerification {
        var verifier = Verifier()
        var after: Int64 = 0
        while true {
            let batch = try await scan(after, batchSize)
            for event in batch {
                if let broken = verifier.check(event) {
                    return AuditVerification(checked: verifier.checked, firstBreak: broken, headHash: verifier.headHash)
                }
            }
            guard let last = batch.last, batch.count == batchSize else { break }
            after = last.seq
        }
        return AuditVerification(checked: verifier.checked, firstBreak: nil, headHash: verifier.headHash)
    }
}

/// Filter for browsing the audit trail.
public struct AuditFilter: Sendable, Equatable {
    public var action: String?
    public var actorName: String?
    public var resourceType: String?
    public var resourceId: String?
    public var outcome: AuditOutcome?
    public var from: Date?
    public var to: Date?

    public init(action: String? = nil, actorName: String? = nil, resourceType: String? = nil, resourceId: String? = nil,
                outcome: AuditOutcome? = nil, from: Date? = nil, to: Date? = nil) {
        self.action = action
        self.actorName = actorName
        self.resourceType = resourceType
        self.resourceId = resourceId
        self.outcome = outcome
        self.from = from
        self.to = to
    }
}
