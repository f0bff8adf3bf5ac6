import Foundation
import TillyardKit

/// The demo's card and QR traffic: a month of transactions from every deployed demo terminal,
/// uploaded through the same path a terminal's upload takes (`FleetService.upload`: stored, risk
/// counters moved, rules judged), so the risk monitor shows live counts, approval rates and a few
/// alerts a risk officer would work: a large single payment, a card used again and again in a day,
/// a payment in the small hours at a shop that is closed then.
enum DemoRisk {
    static func seed(_ fleet: FleetService, terminals: [Terminal]) async throws {
        let now = fleet.clock.now()
        var generator = SeededGenerator(seed: 20_261_207)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Asia/Shanghai")!
        let today = calendar.startOfDay(for: now)
        var stored = 0
        var firstFailure: (any Error)?
        for (index, terminal) in terminals.enumerated() {
            guard let context = try await fleet.context(of: terminal.id, now: now) else { continue }
            let caller = AuthenticatedTerminal(context: context)
            var batch: [TerminalTransaction] = []
            for day in stride(from: 29, through: 0, by: -1) {
                let opening = calendar.date(byAdding: .hour, value: 9, to: calendar.date(byAdding: .day, value: -day, to: today)!)!
                for _ in 0..<Int.random(in: 3...10, using: &generator) {
                    let at = opening.addingTimeInterval(Double.random(in: 0...(12 * 3600), using: &generator))
                    guard at < now else { continue }
                    // Refunds only in the afternoon, after the morning's sales (a refund with no sale that day is an alert).
                    let afternoon = at.timeIntervalSince(opening) > 5 * 3600
                    batch.append(everyday(at: at, card: Int.random(in: 0..<50_000, using: &generator), refundable: afternoon, generator: &generator))
                }
            }
            // The planted cases, at the first few terminals (all still within the last day).
            if index == 0 {
                batch.append(TerminalTransaction(id: UUIDv7.make(now: now.addingTimeInterval(-5_400)), at: now.addingTimeInterval(-5_400),
                                                 amount: 980_000, tender: .card, approved: true, responseCode: "00",
                                                 maskedPan: "622588******4321", authCode: "318842", rrn: "612345678901", entryMode: .chip))
            }
            if index == 1 {
                for repeatIndex in 0..<6 {
                    let at = now.addingTimeInterval(-Double(3_600 - repeatIndex * 300))
                    batch.append(TerminalTransaction(id: UUIDv7.make(now: at), at: at, amount: 49_900, tender: .card, approved: true, responseCode: "00",
                                                     maskedPan: "436788******7788", authCode: String(200_000 + repeatIndex), rrn: "61234567\(1_000 + repeatIndex)",
                                                     entryMode: .contactless))
                }
            }
            if index == 2, let night = calendar.date(byAdding: .hour, value: 3, to: today), night < now {
                batch.append(TerminalTransaction(id: UUIDv7.make(now: night), at: night, amount: 299_900, tender: .card, approved: true, responseCode: "00",
                                                 maskedPan: "521888******1010", authCode: "770011", rrn: "612300001111", entryMode: .swipe))
            }
            batch.sort { $0.at < $1.at }
            for start in stride(from: 0, to: batch.count, by: FleetService.maxUpload) {
                do {
                    stored += try await fleet.upload(TransactionUpload(transactions: Array(batch[start..<min(batch.count, start + FleetService.maxUpload)])),
                                                     from: caller).stored.count
                } catch {
                    // A terminal the rules refuse (uncertified model, say) leaves its alert; the demo goes on.
                    firstFailure = firstFailure ?? error
                }
            }
        }
        if stored == 0, let firstFailure { throw firstFailure }
    }

    /// A shop's everyday payment: mostly card, some WeChat Pay and Alipay, a few declines and refunds.
    /// `card` picks one of 50,000 cards (5 BINs × 10,000 last fours), so a card rarely pays twice a day.
    static func everyday(at: Date, card: Int, refundable: Bool, generator: inout SeededGenerator) -> TerminalTransaction {
        let roll = Int.random(in: 0..<100, using: &generator)
        let tender: TenderKind = roll < 62 ? .card : (roll < 84 ? .wechat : (roll < 96 ? .alipay : .unionpayQR))
        let approved = Int.random(in: 0..<100, using: &generator) >= 4
        let kind: TerminalTransactionKind = refundable && Int.random(in: 0..<100, using: &generator) < 3 ? .refund : .sale
        let bins = ["622202", "622848", "436788", "521888", "621700"]
        let pan = tender == .card ? "\(bins[(card / 10_000) % bins.count])******\(String(format: "%04d", card % 10_000))" : nil
        let yuan = kind == .refund ? Int.random(in: 5...60, using: &generator) : Int.random(in: 10...800, using: &generator)
        return TerminalTransaction(id: UUIDv7.make(now: at), at: at, kind: kind, amount: Int64(yuan * 100),
                                   tender: tender, approved: approved, responseCode: approved ? "00" : "51", maskedPan: pan,
                                   authCode: approved ? String(Int.random(in: 100_000...999_999, using: &generator)) : nil,
                                   rrn: String(Int.random(in: 100_000_000_000...999_999_999_999, using: &generator)),
                                   entryMode: tender == .card ? .chip : .qr)
    }
}
