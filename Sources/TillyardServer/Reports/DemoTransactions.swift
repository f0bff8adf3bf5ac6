import Foundation
import TillyardKit

/// The demo's card and QR payments: a month of transactions from every deployed terminal, stored with
/// the rollups an upload leaves (in one write, as the upload does), so the acquirer dashboard's money
/// part has figures. Risk screening is left out: the demo's alerts come from its own seeds.
enum DemoTransactions {
    static func seed(_ services: AppServices, root: Principal, days: Int = 30) async throws {
        let now = services.fleet.clock.now()
        try await services.store.write { repos in
            var generator = SeededGenerator(seed: 20_261_207)
            var cursor: String?
            var paths: [OrgID: String] = [:]
            repeat {
                let page = try await repos.terminals.search(visibleUnder: root.orgPath, filter: TerminalFilter(),
                                                            page: PageRequest(limit: PageRequest.maxLimit, cursor: cursor))
                for terminal in page.items where FleetService.activatable.contains(terminal.state) {
                    if paths[terminal.orgId] == nil { paths[terminal.orgId] = try await repos.orgs.find(terminal.orgId)?.path }
                    guard let ownerPath = paths[terminal.orgId] else { continue }
                    var batch: [TerminalTransaction] = []
                    for day in 0..<days {
                        for index in 0..<Int.random(in: 2...9, using: &generator) {
                            let at = now.addingTimeInterval(-Double(day * 86_400 + Int.random(in: 60...50_000, using: &generator)))
                            let roll = Int.random(in: 0..<100, using: &generator)
                            let approved = roll >= 5
                            batch.append(TerminalTransaction(id: "demo-\(day)-\(index)", at: at, kind: roll >= 97 ? .refund : .sale,
                                                             amount: Int64(Int.random(in: 500...60_000, using: &generator)),
                                                             tender: roll % 3 == 0 ? .wechat : .card, approved: approved,
                                                             responseCode: approved ? "00" : "51"))
                        }
                    }
                    let stored = try await repos.fleetOps.insertTransactions(batch, cardHashes: [:], terminal: terminal.id, orgPath: ownerPath,
                                                                             merchantId: terminal.merchantId, receivedAt: now)
                    try await TransactionRollup.record(batch.filter { stored.contains($0.id) }, orgPath: ownerPath, merchantId: terminal.merchantId,
                                                       repos: repos)
                }
                cursor = page.nextCursor
            } while cursor != nil
        }
    }
}
