import Foundation
import SQLKit
import Testing
import TillyardKit
import TillyardServer
@testable import TillyardStore
import TillyardTestSupport

/// On SQLite terminal search reaches its rows in one of two ways (driven from a small range's ids,
/// or walking an index in id order with every range as a check; see `TerminalRanges`); PostgreSQL
/// plans the plain conditions itself; version search merges two index walks. Whatever the way, every
/// filter must find exactly the terminals an independent reading of the table says, in order, across pages.
@Suite struct TerminalSearchPlanTests {
    @Test(arguments: TestBackend.allCases)
    func everyPlanFindsTheSameTerminals(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let world = try await EstateLifecycleTests.World.make(database)
            let fixtures = world.fixtures
            // Twelve terminals over both regions; versions chosen so one terminal has the searched
            // version as app and firmware version both (it must come back once).
            let stock = (0..<12).map { index in
                StockIn(sn: "PLAN-\(index < 10 ? "0" : "")\(index)", tid: "4000\(1000 + index)", modelId: world.model.id,
                        ownerId: index % 2 == 0 ? fixtures.regionA : fixtures.regionB, responsiblePerson: ["周伟", "郑丽"][index % 2],
                        appVersion: index % 3 == 0 ? "1.9.8" : "2.4.1", firmwareVersion: index == 4 ? "2.4.1" : "FW-1.\(index % 2)")
            }
            let terminals = try await world.estate.stockIn(stock, by: world.admin)
            // Bound to merchant A (region A): two of region A's and one of region B's, so region A sees it through
            // its merchant; one more bound and unbound again, so its closed binding must not count for MID.
            for index in [0, 2, 5, 7] { _ = try await world.estate.bind(terminals[index].id, world.bindRequest(), by: world.admin) }
            _ = try await world.estate.unbind(terminals[7].id, reason: "merchant closed", by: world.admin)
            _ = try await world.estate.dispatch([terminals[8].id], to: fixtures.acquirer, reason: "back to the acquirer", by: world.admin)

            let paths = try await database.session { db in
                try await db.raw("SELECT id, path FROM organizations").all().reduce(into: [String: String]()) {
                    $0[try $1.decode(column: "id", as: String.self)] = try $1.decode(column: "path", as: String.self)
                }
            }
            let rows = try await database.session { db in try await db.raw("SELECT * FROM terminals").all() }
            let openMids = try await database.session { db in
                try await db.raw("SELECT terminal_id, mid FROM bindings WHERE unbound_at IS NULL").all().reduce(into: [String: String]()) {
                    $0[try $1.decode(column: "terminal_id", as: String.self)] = try $1.decode(column: "mid", as: String.self)
                }
            }
            struct Row {
                let id, sn, tid, state, model, owner: String
                let merchant, person, app, firmware: String?
            }
            let table = try rows.map { row in
                Row(id: try row.decode(column: "id", as: String.self), sn: try row.decode(column: "sn", as: String.self),
                    tid: try row.decode(column: "tid", as: String.self), state: try row.decode(column: "state", as: String.self),
                    model: try row.decode(column: "model_id", as: String.self), owner: try row.decode(column: "owner_path", as: String.self),
                    merchant: try row.decode(column: "merchant_path", as: String?.self),
                    person: try row.decode(column: "responsible_person", as: String?.self),
                    app: try row.decode(column: "app_version", as: String?.self), firmware: try row.decode(column: "firmware_version", as: String?.self))
            }
            /// The reading of the table the search must agree with: every condition tested row by row.
            func expected(_ filter: TerminalFilter, under path: String) -> [String] {
                table.filter { row in
                    func inside(_ subtree: String) -> Bool { row.owner.hasPrefix(subtree) || row.merchant?.hasPrefix(subtree) == true }
                    return inside(path) && (filter.orgPath.map(inside) ?? true)
                        && (filter.sn.map { row.sn.hasPrefix($0.uppercased()) } ?? true)
                        && (filter.tid.map { row.tid == $0 } ?? true)
                        && (filter.mid.map { openMids[row.id] == $0 } ?? true)
                        && (filter.state.map { row.state == $0.rawValue } ?? true)
                        && (filter.modelId.map { row.model == $0.rawValue } ?? true)
                        && (filter.responsiblePerson.map { row.person == $0 } ?? true)
                        && (filter.version.map { row.app == $0 || row.firmware == $0 } ?? true)
                }.map(\.id).sorted(by: >)
            }

            let acquirer = try #require(paths[fixtures.acquirer.rawValue])
            let regionA = try #require(paths[fixtures.regionA.rawValue])
            let regionB = try #require(paths[fixtures.regionB.rawValue])
            let merchantA = try #require(paths[fixtures.merchantA.rawValue])
            let filters: [TerminalFilter] = [
                TerminalFilter(), TerminalFilter(sn: "plan-0"), TerminalFilter(sn: "PLAN-1"), TerminalFilter(sn: "NOPE"),
                TerminalFilter(tid: "40001003"), TerminalFilter(mid: "898310048161234"), TerminalFilter(state: .inStock),
                TerminalFilter(state: .bound), TerminalFilter(modelId: world.model.id), TerminalFilter(orgPath: regionB),
                TerminalFilter(orgPath: merchantA), TerminalFilter(responsiblePerson: "郑丽"), TerminalFilter(version: "2.4.1"),
                TerminalFilter(version: "FW-1.0"), TerminalFilter(version: "9.9.9"),
                TerminalFilter(state: .inStock, orgPath: regionA, version: "1.9.8"),
            ]
            // 0: never drive from a range's ids; 1,000,000: always, from the smallest range.
            for narrowLimit in [0, TerminalRanges.narrowLimit, 1_000_000] {
                for path in [acquirer, regionA, merchantA] {
                    for filter in filters {
                        let found = try await allPages(limit: 2) { page in
                            try await database.session { db in
                                try await SQLTerminalRepository(db: db, backend: database.backend, narrowLimit: narrowLimit)
                                    .search(visibleUnder: path, filter: filter, page: page)
                            }
                        }.flatMap { $0.map(\.id.rawValue) }
                        #expect(found == expected(filter, under: path), "narrowLimit \(narrowLimit), under \(path), \(filter)")
                    }
                    let states: [TerminalState?] = [nil] + TerminalState.allCases.map { $0 }
                    for state in states {
                        let counted = try await database.session { db in
                            try await SQLTerminalRepository(db: db, backend: database.backend, narrowLimit: narrowLimit).count(visibleUnder: path, state: state)
                        }
                        #expect(counted == expected(TerminalFilter(state: state), under: path).count, "count under \(path), \(String(describing: state))")
                    }
                }
            }
        }
    }
}
