import Foundation
import Testing
@testable import TillyardKit

/// The terminal protocol's pure core: request signatures and every way they fail, replayed nonces,
/// activation codes, relocation at the tolerance boundary, parameter inheritance, staged campaigns.
@Suite struct FleetRulesTests {
    let secret = Data((0..<32).map { UInt8($0) })
    let now = Date(timeIntervalSince1970: 1_790_000_000)

    func headers(timestamp: Int64? = nil, nonce: String = "n-0123456789abcdef", signature: String? = nil, body: Data = Data("{}".utf8)) -> SignedRequestHeaders {
        let stamp = timestamp ?? Int64(now.timeIntervalSince1970)
        let signed = signature ?? TerminalSigning.sign(secret: secret, method: "POST", path: "/terminal/v1/heartbeat", timestamp: stamp, nonce: nonce, body: body)
        return SignedRequestHeaders(terminalId: "T1", timestamp: String(stamp), nonce: nonce, signature: signed)
    }

    @Test func aSignatureCoversMethodPathTimeNonceAndBody() throws {
        let body = Data(#"{"battery":80}"#.utf8)
        let stamp = Int64(now.timeIntervalSince1970)
        let signature = TerminalSigning.sign(secret: secret, method: "post", path: "/terminal/v1/heartbeat?x=1", timestamp: stamp, nonce: "nonce-0000000001", body: body)
        #expect(signature.count == 64)
        #expect(TerminalSigning.canonical(method: "post", path: "/p", timestamp: 5, nonce: "n", body: Data()).hasPrefix("TILLYARD-HMAC-SHA256\nPOST\n/p\n5\nn\ne3b0c442"))
        func matches(method: String = "POST", path: String = "/terminal/v1/heartbeat?x=1", timestamp: Int64? = nil, nonce: String = "nonce-0000000001",
                     body: Data? = nil, secret other: Data? = nil) -> Bool {
            TerminalSigning.matches(signature, secret: other ?? secret, method: method, path: path, timestamp: timestamp ?? stamp, nonce: nonce, body: body ?? Data(#"{"battery":80}"#.utf8))
        }
        #expect(matches())
        #expect(!matches(method: "PUT"))
        #expect(!matches(path: "/terminal/v1/heartbeat?x=2"))
        #expect(!matches(timestamp: stamp + 1))
        #expect(!matches(nonce: "nonce-0000000002"))
        #expect(!matches(body: Data(#"{"battery":81}"#.utf8)))
        #expect(!matches(secret: Data(repeating: 7, count: 32)))
    }

    @Test func everyMalformedRequestHasItsReason() {
        func failure(_ headers: SignedRequestHeaders) -> SignatureFailure? {
            do { _ = try TerminalSigning.precheck(headers, now: now); return nil } catch { return error as? SignatureFailure }
        }
        var missing = headers(); missing.nonce = nil
        #expect(failure(missing) == .missingHeader)
        var noTerminal = headers(); noTerminal.terminalId = ""
        #expect(failure(noTerminal) == .missingHeader)
        var badStamp = headers(); badStamp.timestamp = "17900000OO"
        #expect(failure(badStamp) == .malformedTimestamp)
        let stamp = Int64(now.timeIntervalSince1970)
        #expect(failure(headers(timestamp: stamp - 300)) == nil, "exactly at the window is accepted")
        #expect(failure(headers(timestamp: stamp + 300)) == nil)
        #expect(failure(headers(timestamp: stamp - 301)) == .clockSkew)
        #expect(failure(headers(timestamp: stamp + 301)) == .clockSkew)
        #expect(failure(headers(nonce: "short")) == .malformedNonce)
        #expect(failure(headers(nonce: "nonce with spaces!")) == .malformedNonce)
        #expect(failure(headers(nonce: "nönce-0123456789abc")) == .malformedNonce)
        #expect(failure(headers(signature: String(repeating: "A", count: 64))) == .badSignature)
        #expect(failure(headers(signature: "abc")) == .badSignature)
        #expect(Set(SignatureFailure.allCases.map(\.rawValue)).count == SignatureFailure.allCases.count)
    }

    @Test func aNonceIsUsableOncePerTerminalInsideTheWindow() {
        let nonces = NonceWindow(window: 300)
        #expect(nonces.use("nonce-0000000001", terminal: "T1", at: now))
        #expect(!nonces.use("nonce-0000000001", terminal: "T1", at: now.addingTimeInterval(599)), "a replay inside twice the window")
        #expect(nonces.use("nonce-0000000001", terminal: "T2", at: now), "another terminal's nonce is its own")
        #expect(nonces.use("nonce-0000000001", terminal: "T1", at: now.addingTimeInterval(601)), "older than any acceptable timestamp")
        #expect(nonces.count <= 2, "old nonces are swept")
    }

    @Test func activationCodesAreTwelveDigitsStoredOnlyAsHashes() {
        let code = ActivationCodes.generate()
        #expect(code.count == 14 && code.split(separator: "-").map(\.count) == [4, 4, 4])
        #expect(ActivationCodes.hash(code) == ActivationCodes.hash(code.replacingOccurrences(of: "-", with: " ")))
        #expect(ActivationCodes.hash(code) != ActivationCodes.hash(ActivationCodes.generate()))
        #expect(!ActivationCodes.hash(code).contains(ActivationCodes.normalised(code)))
    }

    // MARK: - Relocation

    let shop = Placement(address: "上海市徐汇区漕溪北路 1 号", latitude: 31.19, longitude: 121.43)
    /// Metres per degree of latitude on the sphere used.
    let metresPerDegree = 6_371_008.8 * Double.pi / 180

    func report(north metres: Double, source: LocationSource = .gps, accuracy: Double? = 10, minute: Double = 0) -> LocationReport {
        LocationReport(latitude: shop.latitude + metres / metresPerDegree, longitude: shop.longitude, source: source, accuracy: accuracy,
                       reportedAt: now.addingTimeInterval(minute * 60))
    }

    @Test func distancesAreGreatCircleMetres() {
        let oneDegree = RelocationRules.distance(latitude: 31, longitude: 121, toLatitude: 32, toLongitude: 121)
        #expect(abs(oneDegree - metresPerDegree) < 0.01)
        // People's Square to the Bund's Oriental Pearl Tower: about 2.4 km.
        let pearl = RelocationRules.distance(latitude: 31.2304, longitude: 121.4737, toLatitude: 31.2397, toLongitude: 121.4998)
        #expect((2_300...2_700).contains(pearl))
    }

    @Test func relocationIsFoundOnlyWhenCertainlyBeyondTheTolerance() {
        let policy = RelocationPolicy(fixedToleranceMeters: 500, mobileToleranceMeters: 30_000, confirmations: 2, action: .block)
        // With 10 m of uncertainty, 510 m away is at the tolerance at the least: inside.
        #expect(RelocationRules.check([report(north: 509.99), report(north: 509.99, minute: 5)], placement: shop, business: .fixed, policy: policy) == nil)
        let found = RelocationRules.check([report(north: 510.01), report(north: 600, minute: 5)], placement: shop, business: .fixed, policy: policy)
        #expect(found?.evidence.count == 2 && found?.action == .block && found?.toleranceMeters == 500)
        #expect(abs((found?.certainDistanceMeters ?? 0) - 500.01) < 0.001)
        // One stray fix is not a move; the last reports must all agree.
        #expect(RelocationRules.check([report(north: 5_000)], placement: shop, business: .fixed, policy: policy) == nil)
        #expect(RelocationRules.check([report(north: 5_000), report(north: 20, minute: 5)], placement: shop, business: .fixed, policy: policy) == nil)
        // An IP location 20 km off cannot prove a shop moved; a mobile business has a wider tolerance.
        #expect(RelocationRules.check([report(north: 20_000, source: .ip, accuracy: nil), report(north: 20_000, source: .ip, accuracy: nil)],
                                      placement: shop, business: .fixed, policy: policy) == nil)
        #expect(RelocationRules.check([report(north: 20_000), report(north: 20_000)], placement: shop, business: .mobile, policy: policy) == nil)
        #expect(RelocationRules.check([report(north: 40_000, source: .cell, accuracy: nil), report(north: 40_000, source: .cell, accuracy: nil)],
                                      placement: shop, business: .mobile, policy: policy) != nil)
        // The terminal's own accuracy counts, never below 10 m.
        #expect(report(north: 0, accuracy: 3).uncertainty == 10 && report(north: 0, source: .wifi, accuracy: nil).uncertainty == 150)
    }

    // MARK: - Parameters

    @Test func parametersInheritFromGeneralToSpecific() throws {
        let layers = [
            ParameterLayer(level: .terminal, target: "T1", version: 1, values: ["timeout.host": "45"]),
            ParameterLayer(level: .region, target: "district", depth: 2, version: 3, values: ["host.primary": "10.1.1.1:9000"]),
            ParameterLayer(level: .defaults, target: "", version: 1, values: ["timeout.host": "30", "tender.wechat": "on", "host.primary": "10.0.0.1:9000"]),
            ParameterLayer(level: .region, target: "province", depth: 1, version: 2, values: ["host.primary": "10.1.0.1:9000", "tender.alipay": "on"]),
            ParameterLayer(level: .merchant, target: "M1", version: 4, values: ["receipt.merchant_name": "莲花超市", "tender.wechat": nil]),
            ParameterLayer(level: .model, target: "A920", version: 1, values: ["printer.width": "58"]),
        ]
        let effective = ParameterRules.effective(layers)
        #expect(effective.values == ["timeout.host": "45", "host.primary": "10.1.1.1:9000", "tender.alipay": "on",
                                     "receipt.merchant_name": "莲花超市", "printer.width": "58"])
        #expect(effective.sources["host.primary"] == "region:district" && effective.sources["tender.wechat"] == nil)
        #expect(ParameterRules.effective(layers.reversed()).version == effective.version, "order of the input does not matter")
        var changed = layers
        changed[0].values["timeout.host"] = "46"
        #expect(ParameterRules.effective(changed).version != effective.version)
        #expect(try ParameterRules.key(" host.primary ") == "host.primary")
        #expect(throws: DomainError.self) { _ = try ParameterRules.key("Host") }
        #expect(throws: DomainError.self) { _ = try ParameterRules.key("1st") }
        #expect(throws: DomainError.self) { _ = try ParameterRules.value("a\u{0}b", field: "values.x") }
    }

    // MARK: - Campaigns

    @Test func stagesGrowAndSpreadEvenly() {
        let plan = CampaignPlan()
        let terminals = (0..<10_000).map { "T\($0)" }
        var previous: Set<String> = []
        for stage in plan.stages.indices {
            let included = Set(terminals.filter { CampaignRules.includes(terminal: $0, campaign: "C1", plan: plan, stage: stage) })
            #expect(previous.isSubset(of: included), "stage \(stage) keeps the terminals of the stages before")
            let expected = plan.stages[stage]
            #expect(abs(included.count - expected) <= max(40, expected / 10), "stage \(stage): \(included.count) of 10000 for \(expected) bp")
            previous = included
        }
        #expect(previous.count == 10_000)
        #expect(CampaignRules.bucket(terminal: "T1", campaign: "C1") == CampaignRules.bucket(terminal: "T1", campaign: "C1"))
        let firstOfC1 = Set(terminals.filter { CampaignRules.includes(terminal: $0, campaign: "C1", plan: plan, stage: 0) })
        let firstOfC2 = Set(terminals.filter { CampaignRules.includes(terminal: $0, campaign: "C2", plan: plan, stage: 0) })
        #expect(firstOfC1.intersection(firstOfC2).count < firstOfC1.count / 2, "another campaign starts with other terminals")
    }

    @Test func aStageHaltsOverItsThresholds() throws {
        let plan = CampaignPlan(window: try BusinessHours.parse("01:00-05:00"), maxFailureRate: 500, maxApprovalDrop: 200, minimumReports: 20)
        #expect(CampaignRules.judge(StageMetrics(installed: 10, failed: 9), plan: plan) == .waiting)
        #expect(CampaignRules.judge(StageMetrics(installed: 95, failed: 5), plan: plan) == .healthy, "exactly 5% is within the threshold")
        guard case .halt(let reason) = CampaignRules.judge(StageMetrics(installed: 94, failed: 6), plan: plan) else {
            Issue.record("6% failures must halt"); return
        }
        #expect(reason.contains("6.00%"))
        let fine = StageMetrics(installed: 100, approvedBefore: 970, attemptedBefore: 1000, approvedAfter: 950, attemptedAfter: 1000)
        #expect(CampaignRules.judge(fine, plan: plan) == .healthy, "a drop of exactly two points is within")
        let worse = StageMetrics(installed: 100, approvedBefore: 970, attemptedBefore: 1000, approvedAfter: 949, attemptedAfter: 1000)
        #expect(CampaignRules.judge(worse, plan: plan) != .healthy)
        #expect(CampaignRules.mayInstall(plan: plan, minuteOfDay: 120) && !CampaignRules.mayInstall(plan: plan, minuteOfDay: 600))
        #expect(throws: DomainError.self) { try CampaignPlan(stages: [5000, 1000, 10_000]).validate() }
        #expect(throws: DomainError.self) { try CampaignPlan(stages: [100, 5000]).validate() }
        try CampaignPlan().validate()
    }
}
