import Foundation
import Testing
import TillyardKit

/// Materialised-path helpers of the organisation tree.
@Suite struct OrganizationTests {
    static let now = Date(timeIntervalSince1970: 1_790_000_000)

    static func node(_ id: OrgID, under parent: Organization?, kind: OrgKind) -> Organization {
        Organization(id: id, parentId: parent?.id, kind: kind, name: id.rawValue, code: "C",
                     path: Organization.path(for: id, under: parent), createdAt: now, updatedAt: now)
    }

    let rootId = OrgID.generate(now: now)
    let regionAId = OrgID.generate(now: now.addingTimeInterval(1))
    let regionBId = OrgID.generate(now: now.addingTimeInterval(2))
    let merchantId = OrgID.generate(now: now.addingTimeInterval(3))

    @Test func pathsAreIdsFromTheRootEndingInSlash() {
        let root = Self.node(rootId, under: nil, kind: .acquirer)
        let region = Self.node(regionAId, under: root, kind: .region)
        let merchant = Self.node(merchantId, under: region, kind: .merchant)
        #expect(root.path == "/\(rootId.rawValue)/")
        #expect(region.path == "/\(rootId.rawValue)/\(regionAId.rawValue)/")
        #expect(merchant.path == "/\(rootId.rawValue)/\(regionAId.rawValue)/\(merchantId.rawValue)/")
    }

    @Test func rootIdAndDepth() {
        let root = Self.node(rootId, under: nil, kind: .acquirer)
        let region = Self.node(regionAId, under: root, kind: .region)
        let merchant = Self.node(merchantId, under: region, kind: .merchant)
        #expect(root.rootId == rootId)
        #expect(region.rootId == rootId)
        #expect(merchant.rootId == rootId)
        #expect(root.depth == 1)
        #expect(region.depth == 2)
        #expect(merchant.depth == 3)
    }

    @Test func containsIsTheSubtreeIncludingItself() {
        let root = Self.node(rootId, under: nil, kind: .acquirer)
        let regionA = Self.node(regionAId, under: root, kind: .region)
        let regionB = Self.node(regionBId, under: root, kind: .region)
        let merchant = Self.node(merchantId, under: regionA, kind: .merchant)
        #expect(root.contains(root))
        #expect(root.contains(regionA) && root.contains(regionB) && root.contains(merchant))
        #expect(regionA.contains(merchant))
        #expect(!regionB.contains(merchant), "a sibling's subtree is not ours")
        #expect(!regionA.contains(regionB))
        #expect(!merchant.contains(regionA), "a descendant does not contain its ancestor")
    }

    @Test func containsIsNotFooledByASharedTextPrefix() {
        // Paths end in "/", so "/r/ab/" is not inside "/r/a/".
        let root = Organization(id: OrgID(rawValue: "r"), parentId: nil, kind: .acquirer, name: "r", code: "R", path: "/r/",
                                createdAt: Self.now, updatedAt: Self.now)
        let a = Self.node(OrgID(rawValue: "a"), under: root, kind: .region)
        let ab = Self.node(OrgID(rawValue: "ab"), under: root, kind: .region)
        #expect(!a.contains(ab))
        #expect(!ab.contains(a))
    }
}
