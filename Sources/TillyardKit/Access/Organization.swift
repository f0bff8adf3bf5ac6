import Foundation

/// Tag for organisation ids.
public enum OrgTag {}
/// Id of an organisation node.
public typealias OrgID = Identifier<OrgTag>

/// The kinds of node in the organisation tree, from the acquirer down to a single shop.
public enum OrgKind: String, Codable, Sendable, CaseIterable {
    /// A bank, acquirer or POS service provider: the root of a tenant.
    case acquirer
    /// A geographic branch (分行/分公司); may nest.
    case region
    /// An agent or service provider (服务商) working for a region or acquirer.
    case agent
    /// A merchant (商户).
    case merchant
    /// One shop or outlet of a merchant (门店).
    case store

    /// Which kinds may sit directly below this one.
    public var allowedChildren: Set<OrgKind> {
        switch self {
        case .acquirer: return [.region, .agent, .merchant]
        case .region: return [.region, .agent, .merchant]
        case .agent: return [.merchant]
        case .merchant: return [.store]
        case .store: return []
        }
    }

    /// True for the merchant side of the tree (merchant and store nodes).
    public var isMerchantSide: Bool { self == .merchant || self == .store }
}

/// A node of the organisation tree. Every user belongs to one node and sees only its subtree.
///
/// `path` is the materialised path of ids from the root ("/root/child/…/self/"), so "is X in my
/// subtree" is a prefix test and a subtree query is one indexed `LIKE 'prefix%'`.
public struct Organization: Codable, Sendable, Equatable {
    public var id: OrgID
    public var parentId: OrgID?
    public var kind: OrgKind
    /// Display name (legal or trading name).
    public var name: String
    /// Short business code, unique among siblings' tenant (e.g. acquirer code, branch code, MID later).
    public var code: String
    /// Materialised path, ending in "/".
    public var path: String
    public var createdAt: Date
    public var updatedAt: Date
    /// Optimistic concurrency version, incremented on each update.
    public var version: Int

    public init(id: OrgID, parentId: OrgID?, kind: OrgKind, name: String, code: String, path: String,
                createdAt: Date, updatedAt: Date, version: Int = 1) {
        self.id = id
        self.parentId = parentId
        self.kind = kind
        self.name = name
        self.code = code
        self.path = path
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }

    /// The path of a new child of `parent` (or of a new root) with the given id.
    public static func path(for id: OrgID, under parent: Organization?) -> String {
        (parent?.path ?? "/") + id.rawValue + "/"
    }

    /// Id of the root (acquirer) of this node's tenant.
    public var rootId: OrgID {
        OrgID(rawValue: path.split(separator: "/").first.map(String.init) ?? id.rawValue)
    }

    /// Depth in the tree, 1 for a root.
    public var depth: Int { path.split(separator: "/").count }

    /// Whether `other` lies in this node's subtree (itself included).
    public func contains(_ other: Organization) -> Bool { other.path.hasPrefix(path) }
}
