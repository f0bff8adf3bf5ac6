import Foundation
import Testing
@testable import TillyardKit

/// Staged campaigns' pure rules: versions, stage bands, targets, the local window, the next step
/// (halt, advance after soak, complete), the offer from the in-memory snapshot, compliance issues.
@Suite struct CampaignRulesTests {
    let now = Date(timeIntervalSince1970: 1_790_000_000)
    let model = ModelID(rawValue: "0190a000-0000-7000-8000-000000000001")
    let other = ModelID(rawValue: "0190a000-0000-7000-8000-000000000002")

    func terminal(_ n: Int, state: TerminalState = .inService, app: String? = "2.3.0") -> Terminal {
        Terminal(id: TerminalID(rawValue: String(format: "0190a000-0000-7000-8000-%012d", n)), orgId: OrgID(rawValue: "org"), sn: "SN\(n)", tid: "T\(n)",
                 modelId: model, state: state, appVersion: app, createdAt: now, updatedAt: now)
    }

    @Test func versionsCompareByNumber() throws {
        #expect(SoftwareVersions.compare("1.10", "1.9") == .orderedDescending)
        #expect(SoftwareVersions.compare("1.2", "1.2.0") == .orderedSame)
        #expect(SoftwareVersions.isBelow("2.3.9", "2.4"))
        #expect(!SoftwareVersions.isBelow("2.4.0", "2.4"))
        #expect(throws: DomainError.self) { try SoftwareVersions.validated("2.4 beta") }
        #expect(throws: DomainError.self) { try SoftwareVersions.sha256("abc") }
        #expect(CampaignRules.needs("2.4.0", current: "2.3.9") && !CampaignRules.needs("2.4.0", current: "2.4.0") && CampaignRules.needs("2.4.0", current: nil))
    }

    @Test func bandsAndTargets() {
        let plan = CampaignPlan(stages: [1000, 5000, 10_000])
        #expect(CampaignRules.band(of: 0, plan: plan) == 0 && CampaignRules.band(of: 999, plan: plan) == 0)
        #expect(CampaignRules.band(of: 1000, plan: plan) == 1 && CampaignRules.band(of: 9999, plan: plan) == 2)
        let target = CampaignTarget(modelIds: [model], maxVersion: "2.3.5")
        let t = terminal(1)
        #expect(CampaignRules.matches(target, compatible: [model], terminal: t, ownerPath: "/a/r/", scopePath: "/a/", targetPath: "/a/r/", currentVersion: "2.3.0"))
        #expect(!CampaignRules.matches(target, compatible: [other], terminal: t, ownerPath: "/a/r/", scopePath: "/a/", targetPath: nil, currentVersion: "2.3.0"),
                "the package is not for its model")
        #expect(!CampaignRules.matches(target, compatible: [model], terminal: t, ownerPath: "/b/", scopePath: "/a/", targetPath: nil, currentVersion: "2.3.0"),
                "outside the campaign's subtree")
        #expect(!CampaignRules.matches(target, compatible: [model], terminal: t, ownerPath: "/a/s/", scopePath: "/a/", targetPath: "/a/r/", currentVersion: "2.3.0"),
                "outside the target region")
        #expect(!CampaignRules.matches(target, compatible: [model], terminal: t, ownerPath: "/a/", scopePath: "/a/", targetPath: nil, currentVersion: "2.3.6"),
                "above the version limit")
        #expect(!CampaignRules.matches(target, compatible: [model], terminal: terminal(2, state: .inRepair), ownerPath: "/a/", scopePath: "/a/", targetPath: nil,
                                       currentVersion: "2.3.0"))
    }

    @Test func windowInLocalTime() throws {
        // 1_790_000_000 is 14:13 UTC, 22:13 in Shanghai.
        let shanghai = TimeZone(identifier: "Asia/Shanghai")!
        #expect(CampaignRules.minuteOfDay(now, zone: shanghai) == 22 * 60 + 13)
        #expect(CampaignRules.minuteOfDay(now, zone: TimeZone(identifier: "UTC")!) == 14 * 60 + 13)
        let plan = CampaignPlan(window: try BusinessHours.parse("22:00-02:00"))
        #expect(CampaignRules.mayInstall(plan: plan, minuteOfDay: CampaignRules.minuteOfDay(now, zone: shanghai)))
        #expect(!CampaignRules.mayInstall(plan: plan, minuteOfDay: CampaignRules.minuteOfDay(now, zone: TimeZone(identifier: "UTC")!)))
    }

    func campaign(stage: Int = 0, targets: [Int] = [10, 40, 50], soak: Int = 0, accepted: Int? = nil) -> Campaign {
        Campaign(id: CampaignID(rawValue: "c1"), orgId: OrgID(rawValue: "org"), name: "c", packageId: PackageID(rawValue: "p"), rollbackPackageId: nil,
                 target: CampaignTarget(), plan: CampaignPlan(stages: [1000, 5000, 10_000], minimumReports: 5, soakMinutes: soak),
                 state: .running, stage: stage, stageStartedAt: now, stageTargets: targets, acceptedStage: accepted, createdBy: "x", createdAt: now,
                 updatedAt: now)
    }

    @Test func stepHaltsAdvancesAndCompletes() {
        #expect(CampaignRules.step(campaign(), metrics: [0: StageMetrics(installed: 4)], now: now) == .stay, "fewer than the minimum reports")
        #expect(CampaignRules.step(campaign(), metrics: [0: StageMetrics(installed: 5)], now: now) == .advance)
        guard case .halt(let reason) = CampaignRules.step(campaign(), metrics: [0: StageMetrics(installed: 3, failed: 2)], now: now) else {
            Issue.record("two failures in five halt")
            return
        }
        #expect(reason.hasPrefix("stage 1:") && reason.contains("40.00%"))
        #expect(CampaignRules.step(campaign(accepted: 0), metrics: [0: StageMetrics(installed: 3, failed: 2)], now: now) == .advance,
                "an operator resumed the halted stage")
        // Approval fell from 98% to 90% after installing.
        let drop = StageMetrics(installed: 5, approvedBefore: 98, attemptedBefore: 100, approvedAfter: 90, attemptedAfter: 100)
        #expect(CampaignRules.step(campaign(), metrics: [0: drop], now: now) != .advance)
        // Soak: healthy but not long enough.
        #expect(CampaignRules.step(campaign(soak: 60), metrics: [0: StageMetrics(installed: 5)], now: now.addingTimeInterval(600)) == .stay)
        #expect(CampaignRules.step(campaign(soak: 60), metrics: [0: StageMetrics(installed: 5)], now: now.addingTimeInterval(3600)) == .advance)
        // A stage band with no terminals is healthy at once; after the last, complete.
        #expect(CampaignRules.step(campaign(targets: [0, 1, 1]), metrics: [:], now: now) == .advance)
        #expect(CampaignRules.step(campaign(stage: 2), metrics: [0: StageMetrics(installed: 10), 1: StageMetrics(installed: 40), 2: StageMetrics(installed: 50)],
                                   now: now) == .complete)
        #expect(CampaignRules.allowed(.resume) == [.paused, .halted] && !CampaignRules.allowed(.start).contains(.running))
    }

    @Test func snapshotOffers() throws {
        let package = SoftwarePackage(id: PackageID(rawValue: "p1"), orgId: OrgID(rawValue: "org"), kind: .app, version: "2.4.0", modelIds: [model],
                                      sha256: String(repeating: "a", count: 64), size: 10, filename: nil, notes: nil, createdBy: "x", createdAt: now)
        var running = campaign(stage: 2)
        running.packageId = package.id
        let snapshot = LiveSnapshot()
        snapshot.replace([LiveCampaign(campaign: running, scopePath: "/a/", targetPath: nil, package: package, rollback: nil)], results: [:], at: now)
        let t = terminal(7)
        let offer = try #require(snapshot.offer(terminal: t, ownerPath: "/a/r/", heartbeat: Heartbeat(appVersion: "2.3.0"), now: now))
        #expect(offer.version == "2.4.0" && offer.url == "/terminal/v1/packages/p1")
        #expect(snapshot.offer(terminal: t, ownerPath: "/a/r/", heartbeat: Heartbeat(appVersion: "2.4.0"), now: now) == nil, "already runs it")
        #expect(snapshot.drainOffers().count == 1, "one offer recorded however often it is made")
        snapshot.take([InstallResult(campaignId: running.id, terminalId: t.id, packageId: package.id, stage: 0, outcome: .failed, detail: nil, reportedAt: now)])
        #expect(snapshot.offer(terminal: t, ownerPath: "/a/r/", heartbeat: Heartbeat(appVersion: "2.3.0"), now: now) == nil, "reported: not offered again")
    }

    @Test func complianceIssues() {
        let valid = TerminalModel(id: model, orgId: OrgID(rawValue: "org"), manufacturer: "PAX", name: "A920", terminalClass: .smartAndroid, connectivity: [],
                                  ptsApproval: "4-1", ptsExpiry: now.addingTimeInterval(86_400), unionPayCertified: true, unionPayCertificate: nil,
                                  createdAt: now, updatedAt: now)
        var expired = valid
        expired.ptsExpiry = now.addingTimeInterval(-1)
        expired.unionPayCertified = false
        let criteria = ComplianceCriteria(minimumApp: "2.4", silentDays: 7)
        let fine = ComplianceRow(terminal: terminal(1), model: valid, lastSeenAt: now.addingTimeInterval(-3600), appVersion: "2.4.1", firmwareVersion: nil)
        #expect(ComplianceService.issues(fine, criteria: criteria, now: now).isEmpty)
        let bad = ComplianceRow(terminal: terminal(2), model: expired, lastSeenAt: now.addingTimeInterval(-8 * 86_400), appVersion: "2.3.9", firmwareVersion: nil)
        #expect(ComplianceService.issues(bad, criteria: criteria, now: now) == [.appBelowMinimum, .modelExpired, .modelUncertified, .silent])
        let never = ComplianceRow(terminal: terminal(3), model: valid, lastSeenAt: nil, appVersion: nil, firmwareVersion: nil)
        #expect(ComplianceService.issues(never, criteria: criteria, now: now) == [.appBelowMinimum, .neverSeen])
    }
}
