import Foundation
import Testing
@testable import TillyardKit

/// The pure rules engine: every default rule at its threshold, shadow and off modes, counters in
/// memory (the same keys and increments the stored ones use), back-tests, rule validation and
/// settlement reconciliation.
@Suite struct RiskRulesTests {
    /// 2026-03-02 10:00 in Shanghai (02:00 UTC).
    let morning = Date(timeIntervalSince1970: 1_772_416_800)
    let rules = RiskLibrary.defaults

    func facts(_ id: String, terminal: String = "T1", merchant: String? = "M1", card: String? = "card-a", prefix: String? = "62220212",
               kind: TerminalTransactionKind = .sale, amount: Int64 = 12_50, approved: Bool = true, at: Date? = nil,
               hours: BusinessHours? = nil) -> RiskFacts {
        RiskFacts(terminalId: terminal, transactionId: id, merchantId: merchant, cardHash: card, cardPrefix: prefix, kind: kind, amount: amount,
                  approved: approved, at: at ?? morning, businessHours: hours)
    }

    /// Replays transactions through memory counters and returns the hits of each, by rule.
    func run(_ items: [RiskFacts], rules: [RiskRule]? = nil) -> [[RiskRuleKind]] {
        var memory = RiskMemoryCounters()
        return items.map { item in
            let hits = RiskEngine.evaluate(item, snapshot: memory.snapshot(for: RiskEngine.reads(item)), rules: rules ?? self.rules)
            memory.apply(item)
            return hits.map(\.rule)
        }
    }

    func only(_ kind: RiskRuleKind, _ parameters: [String: Int64] = [:]) -> [RiskRule] {
        var rule = RiskLibrary.rule(kind)
        rule.parameters.merge(parameters) { $1 }
        return [rule]
    }

    @Test func businessDaysAndMinutesAreShanghaiTime() {
        #expect(RiskClock.minute(of: morning) == 600)
        // 23:59 UTC is 07:59 the next day in Shanghai.
        let lateUTC = Date(timeIntervalSince1970: 1_772_409_540)
        #expect(RiskClock.day(of: lateUTC) == RiskClock.day(of: morning))
        #expect(RiskClock.start(ofDay: RiskClock.day(of: morning)) == Date(timeIntervalSince1970: 1_772_380_800))
    }

    @Test func largeAmountAtEightThousandYuan() {
        #expect(run([facts("a", amount: 799_999), facts("b", amount: 800_000)], rules: only(.largeAmount)) == [[], [.largeAmount]])
        #expect(run([facts("r", kind: .refund, amount: 900_000)], rules: only(.largeAmount)) == [[]], "refunds are not large sales")
    }

    @Test func theSameCardFiveTimesADay() {
        let items = (1...6).map { facts("t\($0)", amount: Int64($0) * 100) }
        #expect(run(items, rules: only(.cardVelocity)).map(\.count) == [0, 0, 0, 0, 1, 1])
        // The next business day starts again.
        let tomorrow = facts("t7", at: morning.addingTimeInterval(86_400))
        #expect(run(items + [tomorrow], rules: only(.cardVelocity)).last == [])
    }

    @Test func moreThanEightCardsOfOnePrefixAtOneMerchant() {
        let items = (1...10).map { facts("t\($0)", card: "card-\($0)", amount: Int64($0) * 100) }
        #expect(run(items, rules: only(.binCluster)).map(\.count) == [0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
        let elsewhere = (1...10).map { facts("t\($0)", merchant: "M\($0)", card: "card-\($0)") }
        #expect(run(elsewhere, rules: only(.binCluster)).allSatisfy { $0.isEmpty })
    }

    @Test func sameCardMerchantAndAmountThreeTimes() {
        let items = [facts("a"), facts("b"), facts("c", amount: 999), facts("d")]
        #expect(run(items, rules: only(.repeatedAmount)) == [[], [], [], [.repeatedAmount]])
    }

    @Test func roundAndJustUnderLimitAmountsRepeated() {
        let round = (1...3).map { facts("r\($0)", card: "c\($0)", amount: 200_000) }
        #expect(run(round, rules: only(.suspiciousAmount)) == [[], [], [.suspiciousAmount]])
        let under = [facts("u1", card: "x", amount: 99_900), facts("u2", card: "y", amount: 99_900), facts("u3", card: "z", amount: 99_900)]
        #expect(run(under, rules: only(.suspiciousAmount)).last == [.suspiciousAmount])
        let nineNineNineNine = (1...3).map { facts("n\($0)", card: "c\($0)", amount: 999_900) }
        #expect(run(nineNineNineNine, rules: only(.suspiciousAmount)).last == [.suspiciousAmount])
        let ordinary = (1...5).map { facts("o\($0)", card: "c\($0)", amount: 12_345) }
        #expect(run(ordinary, rules: only(.suspiciousAmount)).allSatisfy { $0.isEmpty })
    }

    @Test func outsideBusinessHours() {
        let threeAM = morning.addingTimeInterval(-7 * 3600)
        #expect(run([facts("q", at: threeAM)], rules: only(.offHours)) == [[.offHours]], "the quiet window without a file")
        #expect(run([facts("q", at: morning)], rules: only(.offHours)) == [[]])
        let shop = try? BusinessHours.parse("09:00-22:00")
        #expect(run([facts("s", at: morning.addingTimeInterval(-2 * 3600), hours: shop)], rules: only(.offHours)) == [[.offHours]], "08:00 is before opening")
        #expect(run([facts("s", at: threeAM, hours: .allDay)], rules: only(.offHours)) == [[]], "a 24h shop never is")
    }

    @Test func theSameCardAtTwoTerminalsWithinThirtyMinutes() {
        let first = facts("a", terminal: "T1")
        let close = facts("b", terminal: "T2", at: morning.addingTimeInterval(29 * 60))
        let far = facts("c", terminal: "T3", at: morning.addingTimeInterval(90 * 60))
        let same = facts("d", terminal: "T3", at: morning.addingTimeInterval(95 * 60))
        #expect(run([first, close, far, same], rules: only(.splitTerminals)) == [[], [.splitTerminals], [], []])
    }

    @Test func refundsExceedingSales() {
        let items = [facts("s", amount: 10_000), facts("r1", kind: .refund, amount: 6_000), facts("r2", kind: .refund, amount: 5_000)]
        #expect(run(items, rules: only(.refundsExceedSales)) == [[], [], [.refundsExceedSales]])
        #expect(run([facts("d", kind: .refund, amount: 5_000, approved: false)], rules: only(.refundsExceedSales)) == [[]], "declined refunds move no money")
    }

    @Test func volumeAboveSixHundredPercentOfTheDailyAverage() {
        // 90 days of 9,000 fen a day average 9,000; today's 54,001 is just over 600 %.
        let history = (1...90).map { facts("h\($0)", card: "c\($0)", amount: 9_000, at: morning.addingTimeInterval(-Double($0) * 86_400)) }.reversed()
        let today = [facts("t1", card: "x", amount: 50_000), facts("t2", card: "y", amount: 4_000), facts("t3", card: "z", amount: 1)]
        #expect(run(Array(history) + today, rules: only(.volumeSpike)).suffix(3) == [[], [], [.volumeSpike]])
        #expect(run(today, rules: only(.volumeSpike)).allSatisfy { $0.isEmpty }, "a merchant without history has no average")
        // A young merchant has no baseline: 29 days of sales are too few, 30 are enough (same daily average of 9,000 over 90 days).
        let young = (1...29).map { facts("y\($0)", card: "c\($0)", amount: 27_931, at: morning.addingTimeInterval(-Double($0) * 86_400)) }.reversed()
        #expect(run(Array(young) + today, rules: only(.volumeSpike)).suffix(3) == [[], [], []])
        let enough = (1...30).map { facts("e\($0)", card: "c\($0)", amount: 27_000, at: morning.addingTimeInterval(-Double($0) * 86_400)) }.reversed()
        #expect(run(Array(enough) + today, rules: only(.volumeSpike)).suffix(3) == [[], [], [.volumeSpike]])
    }

    @Test func aDormantTerminalWakesUp() {
        let old = facts("a", at: morning.addingTimeInterval(-91 * 86_400))
        #expect(run([old, facts("b")], rules: only(.dormantTerminal)) == [[], [.dormantTerminal]])
        #expect(run([facts("a", at: morning.addingTimeInterval(-89 * 86_400)), facts("b")], rules: only(.dormantTerminal)) == [[], []])
    }

    @Test func shadowRulesHitButSayTheirMode() {
        var rule = RiskLibrary.rule(.largeAmount)
        rule.mode = .shadow
        let hits = RiskEngine.evaluate(facts("a", amount: 900_000), snapshot: RiskSnapshot(), rules: [rule])
        #expect(hits.count == 1 && hits[0].mode == .shadow && hits[0].numbers["amount"] == 900_000)
        rule.mode = .off
        #expect(RiskEngine.evaluate(facts("a", amount: 900_000), snapshot: RiskSnapshot(), rules: [rule]).isEmpty)
    }

    @Test func aBacktestCountsAlertsOncePerDimensionAndDay() {
        let day1 = (1...7).map { facts("a\($0)", amount: Int64($0)) }
        let day2 = (1...5).map { facts("b\($0)", amount: Int64($0), at: morning.addingTimeInterval(86_400 + Double($0))) }
        let result = RiskEngine.backtest(RiskLibrary.rule(.cardVelocity), history: day1 + day2)
        #expect(result.transactions == 12 && result.hits == 4 && result.alerts == 2, "\(result)")
        var stricter = RiskLibrary.rule(.cardVelocity)
        stricter.parameters["minCount"] = 7
        stricter.mode = .shadow
        #expect(RiskEngine.backtest(stricter, history: day1 + day2).alerts == 1, "a shadow rule is back-tested as if enforced")
    }

    @Test func rulesAreValidatedAndLaidOverTheLibrary() throws {
        var rule = RiskLibrary.rule(.cardVelocity)
        rule.parameters = ["minCount": 1]
        #expect(throws: DomainError.self) { try RiskLibrary.validated(rule) }
        rule.parameters = ["nonsense": 3]
        #expect(throws: DomainError.self) { try RiskLibrary.validated(rule) }
        rule.parameters = ["minCount": 4]
        rule.actions = [.blockTerminal]
        let valid = try RiskLibrary.validated(rule)
        #expect(valid.actions == [.alert, .blockTerminal], "every hit is an alert too")
        var saved = valid
        saved.version = 2
        let effective = RiskLibrary.effective([valid, saved])
        #expect(effective.count == RiskLibrary.defaults.count && effective.first { $0.kind == .cardVelocity }?.version == 2)
    }

    @Test func cardIdentityIsKeyedAndKeepsOnlyThePrefix() {
        let one = CardIdentity(secret: Data(repeating: 1, count: 32)), two = CardIdentity(secret: Data(repeating: 2, count: 32))
        #expect(one.hash("622202******1234") == one.hash("622202******1234"))
        #expect(one.hash("622202******1234") != two.hash("622202******1234"))
        #expect(one.hash(nil) == nil)
        #expect(CardIdentity.prefix("62220212****1234") == "62220212" && CardIdentity.prefix("****1234") == nil)
    }

    @Test func settlementReconcilesTotalsAndTransactions() {
        let stored = [
            TerminalTransaction(id: "a", at: morning, amount: 1_000, approved: true, responseCode: "00"),
            TerminalTransaction(id: "b", at: morning, amount: 2_000, approved: true, responseCode: "00"),
            TerminalTransaction(id: "c", at: morning, kind: .refund, amount: 500, approved: true, responseCode: "00"),
            TerminalTransaction(id: "d", at: morning, amount: 9_000, approved: false, responseCode: "51"),
        ]
        let good = SettlementUpload(batchNo: "1", closedAt: morning, totals: [SettlementTotal(kind: .sale, count: 2, amount: 3_000),
                                                                              SettlementTotal(kind: .refund, count: 1, amount: 500)])
        let (lines, missing, notUploaded) = SettlementRules.reconcile(good, stored: stored)
        #expect(lines.allSatisfy { $0.matches } && missing.isEmpty && notUploaded.isEmpty)
        let bad = SettlementUpload(batchNo: "2", closedAt: morning, totals: [SettlementTotal(kind: .sale, count: 2, amount: 3_500)],
                                   transactionIds: ["a", "x"])
        let result = SettlementRules.reconcile(bad, stored: stored)
        #expect(result.lines.first { $0.kind == .sale }?.matches == false && result.lines.first { $0.kind == .refund }?.storedCount == 1)
        #expect(result.missing == ["b", "c"] && result.notUploaded == ["x"])
    }

    @Test func theScheduleIsDueOncePerIntervalAfterTheFirstUpload() {
        let schedule = RiskSchedule(interval: 600)
        let acquirer = OrgID(rawValue: "acq")
        #expect(schedule.due(acquirer, at: morning) == nil, "no sweeper yet")
        schedule.set { _, _ in [] }
        #expect(schedule.due(OrgID(rawValue: "other"), at: morning) == nil, "the first upload starts the interval")
        #expect(schedule.due(acquirer, at: morning.addingTimeInterval(599)) == nil)
        #expect(schedule.due(acquirer, at: morning.addingTimeInterval(600)) != nil)
        #expect(schedule.due(acquirer, at: morning.addingTimeInterval(900)) == nil, "marked as run")
    }
}
