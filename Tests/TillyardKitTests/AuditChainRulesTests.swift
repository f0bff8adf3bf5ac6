import Foundation
import Testing
import TillyardKit

/// The audit hash chain's pure rules: canonical summaries, deterministic linking, and the verifier
/// catching edits, broken links, gaps and reordering.
@Suite struct AuditChainRulesTests {
    static let org = OrgID(rawValue: "0190f3a2-7b1c-7d2e-8f3a-0123456789ab")
    static let start = Date(timeIntervalSince1970: 1_790_000_000.250)

    static func draft(_ index: Int, summary: [String: String] = [:]) -> AuditDraft {
        AuditDraft(orgId: org, actor: AuditActor(kind: .user, id: "u-\(index)", name: "alice"), action: "user.update",
                   resourceType: "user", resourceId: "r-\(index)", origin: "10.0.0.\(index)", summary: summary)
    }

    /// A valid chain of `count` events.
    static func chain(_ count: Int) -> [AuditEvent] {
        var events: [AuditEvent] = []
        for index in 0..<count {
            let previous = events.last.map { (seq: $0.seq, hash: $0.hash) }
            events.append(AuditChain.link(draft(index, summary: ["n": String(index)]), orgPath: "/\(org.rawValue)/",
                                          at: start.addingTimeInterval(Double(index)), after: previous))
        }
        return events
    }

    /// Runs a verifier over events; returns the first break and how many checked out.
    static func verify(_ events: [AuditEvent]) -> (AuditChain.Break?, Int64) {
        var verifier = AuditChain.Verifier()
        for event in events {
            if let broken = verifier.check(event) { return (broken, verifier.checked) }
        }
        return (nil, verifier.checked)
    }

    @Test func canonicalSummaryIsSortedAndIndependentOfInsertionOrder() {
        var forward: [String: String] = [:]
        for key in ["a", "b", "c", "role", "z"] { forward[key] = "v-\(key)" }
        var backward: [String: String] = [:]
        for key in ["z", "role", "c", "b", "a"] { backward[key] = "v-\(key)" }
        let text = AuditChain.canonicalSummary(forward)
        #expect(text == AuditChain.canonicalSummary(backward))
        #expect(text == #"{"a":"v-a","b":"v-b","c":"v-c","role":"v-role","z":"v-z"}"#)
        #expect(AuditChain.canonicalSummary([:]) == "{}")
        #expect(AuditChain.canonicalSummary(["path": "/a/b/"]) == #"{"path":"/a/b/"}"#, "slashes are not escaped")
    }

    @Test func firstLinkStartsFromGenesis() {
        let event = AuditChain.link(Self.draft(1), orgPath: "/x/", at: Self.start, after: nil)
        #expect(event.seq == 1)
        #expect(event.prevHash == AuditChain.genesis)
        #expect(AuditChain.genesis == String(repeating: "0", count: 64))
        #expect(event.hash.wholeMatch(of: /[0-9a-f]{64}/) != nil)
        #expect(event.hash == AuditChain.hash(of: event))
        #expect(event.at == EpochMillis.date(EpochMillis.from(Self.start)), "time is stored to the millisecond")
    }

    @Test func linkingIsDeterministic() {
        let summary = ["displayName": "A → B", "role": "cashier → merchant_owner"]
        let first = AuditChain.link(Self.draft(1, summary: summary), orgPath: "/x/", at: Self.start, after: (seq: 7, hash: "abc"))
        let again = AuditChain.link(Self.draft(1, summary: summary), orgPath: "/x/", at: Self.start, after: (seq: 7, hash: "abc"))
        #expect(first == again)
        #expect(first.seq == 8)
        #expect(first.prevHash == "abc")
        // Sub-millisecond differences vanish, because only milliseconds are stored.
        let jitter = AuditChain.link(Self.draft(1, summary: summary), orgPath: "/x/", at: Self.start.addingTimeInterval(0.0001),
                                     after: (seq: 7, hash: "abc"))
        #expect(jitter.hash == first.hash)
        // A different previous hash gives a different hash.
        let other = AuditChain.link(Self.draft(1, summary: summary), orgPath: "/x/", at: Self.start, after: (seq: 7, hash: "abd"))
        #expect(other.hash != first.hash)
    }

    @Test func everyFieldIsCoveredByTheHash() {
        let base = Self.chain(1)[0]
        let edits: [(String, (inout AuditEvent) -> Void)] = [
            ("seq", { $0.seq += 1 }),
            ("orgId", { $0.orgId = OrgID(rawValue: "other") }),
            ("orgPath", { $0.orgPath = "/other/" }),
            ("at", { $0.at = $0.at.addingTimeInterval(0.001) }),
            ("actor.kind", { $0.actor.kind = .token }),
            ("actor.id", { $0.actor.id = "mallory-id" }),
            ("actor.name", { $0.actor.name = "mallory" }),
            ("action", { $0.action = "user.delete" }),
            ("resourceType", { $0.resourceType = "api_token" }),
            ("resourceId", { $0.resourceId = "r-x" }),
            ("outcome", { $0.outcome = .denied }),
            ("origin", { $0.origin = "1.2.3.4" }),
            ("summary", { $0.summary = "{}" }),
            ("prevHash", { $0.prevHash = String(repeating: "1", count: 64) }),
        ]
        for (name, edit) in edits {
            var changed = base
            edit(&changed)
            #expect(AuditChain.hash(of: changed) != base.hash, "editing \(name) must change the hash")
        }
        // Moving text across a field boundary changes the hash too.
        var shifted = base
        shifted.resourceType = "use"
        shifted.resourceId = "r" + base.resourceId
        var original = base
        original.resourceType = "user"
        #expect(AuditChain.hash(of: shifted) != AuditChain.hash(of: original))
    }

    @Test func intactChainVerifies() {
        let events = Self.chain(6)
        #expect(events.map(\.seq) == [1, 2, 3, 4, 5, 6])
        for index in 1..<events.count { #expect(events[index].prevHash == events[index - 1].hash) }
        let (broken, checked) = Self.verify(events)
        #expect(broken == nil)
        #expect(checked == 6)
    }

    @Test func verifierCatchesAnEditedField() {
        var events = Self.chain(6)
        events[2].actor.name = "mallory"
        let (broken, checked) = Self.verify(events)
        #expect(broken == .tampered(seq: 3))
        #expect(checked == 2)
        #expect(broken?.seq == 3)
        #expect(broken?.description.contains("event 3 was changed") == true)
    }

    @Test func verifierCatchesARehashedEventThatNoLongerLinks() {
        // An attacker edits event 3 and recomputes its hash: event 4 no longer links to it.
        var events = Self.chain(6)
        events[2].summary = #"{"n":"forged"}"#
        events[2].hash = AuditChain.hash(of: events[2])
        #expect(Self.verify(events).0 == .brokenLink(seq: 4))
    }

    @Test func verifierCatchesABrokenLink() {
        var events = Self.chain(6)
        events[3].prevHash = events[1].hash
        events[3].hash = AuditChain.hash(of: events[3])
        let (broken, checked) = Self.verify(events)
        #expect(broken == .brokenLink(seq: 4))
        #expect(checked == 3)
    }

    @Test func verifierCatchesAGap() {
        var events = Self.chain(6)
        events.remove(at: 2)
        let (broken, checked) = Self.verify(events)
        #expect(broken == .gap(expected: 3, found: 4))
        #expect(checked == 2)
        #expect(broken?.seq == 4)
        #expect(broken?.description == "event 3 is missing (next stored event is 4)")
    }

    @Test func verifierCatchesReordering() {
        var events = Self.chain(6)
        events.swapAt(2, 3)
        #expect(Self.verify(events).0 == .gap(expected: 3, found: 4))
    }

    @Test func verifierCatchesAForgedFirstEvent() {
        var events = Self.chain(3)
        events[0].prevHash = String(repeating: "f", count: 64)
        events[0].hash = AuditChain.hash(of: events[0])
        #expect(Self.verify(events).0 == .brokenLink(seq: 1))
    }

    @Test func verifierWorksIncrementallyAcrossBatches() {
        let events = Self.chain(7)
        var verifier = AuditChain.Verifier()
        for batch in [events[0..<3], events[3..<6], events[6..<7]] {
            for event in batch { #expect(verifier.check(event) == nil) }
        }
        #expect(verifier.checked == 7)
        // Feeding an event again is a gap, not silently accepted.
        #expect(verifier.check(events[6]) == .gap(expected: 8, found: 7))
    }
}
