import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SQLKit
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// Reports on both engines, against hand-computed fixtures: sales and a refund made through the real
/// `SalesService` and terminal transactions through the signed upload, then every figure checked by
/// day, hour, tender, product, category, margin and period comparison; the rollups equal a rebuild
/// from history; merchants see only their own stores; finance sees money and technical staff the
/// fleet; CSV content; the console pages with their SVG charts in both languages.
@Suite struct ReportsTests {
    typealias Device = FleetOperationsTests.Device

    /// The shop of the fixtures: tea (10.00, cost 6.00, drinks) and cake (25.00, no cost, bakery).
    struct Shop {
        let tea: Product
        let cake: Product
        let shift: Shift
        /// The business day of the main trading and the day before.
        let day: Int
        let sale1: Sale
    }

    /// Day D−1 22:13: one cake for cash. Day D: 10:00 two teas for cash (20.00); 10:30 a cake and a tea
    /// by card (35.00); 15:00 three teas by card (30.00); 16:00 one tea of the first sale refunded in cash.
    static func trade(_ h: Harness) async throws -> Shop {
        let owner = try await h.principal("merchantA.owner")
        let services = h.env.services
        let tea = try await services.catalog.create(ProductInput(sku: "TEA-1", nameZh: "绿茶", nameEn: "Green tea", category: "drinks", price: 1000, cost: 600),
                                                    merchantId: h.fixtures.merchantA, by: owner)
        let cake = try await services.catalog.create(ProductInput(sku: "CAKE-1", nameZh: "蛋糕", nameEn: "Cake", category: "bakery", price: 2500),
                                                     merchantId: h.fixtures.merchantA, by: owner)
        let shift = try await services.sales.openShift(storeId: h.fixtures.storeA, registerId: "POS-01", openingFloat: 10_000, by: owner)
        let clock = h.env.clock
        var seq: Int64 = 0
        func sell(_ lines: [(Product, Int64)], _ tender: TenderInput) async throws -> Sale {
            seq += 1
            return try await services.sales.complete(SaleInput(id: SaleID(rawValue: UUIDv7.make(now: clock.clock.now())), storeId: h.fixtures.storeA,
                                                               registerId: "POS-01", registerSeq: seq, shiftId: shift.id,
                                                               lines: lines.map { SaleLineInput(productId: $0.0.id, quantity: $0.1) },
                                                               tenders: [tender]), by: owner)
        }
        let before = RiskClock.day(of: clock.clock.now())
        _ = try await sell([(cake, 1000)], TenderInput(kind: .cash, tendered: 2500))
        // To 10:00 of the next business day (Asia/Shanghai).
        let next = RiskClock.start(ofDay: before + 1).addingTimeInterval(10 * 3600)
        clock.advance(next.timeIntervalSince(clock.clock.now()))
        let sale1 = try await sell([(tea, 2000)], TenderInput(kind: .cash, tendered: 5000))
        clock.advance(1800)
        _ = try await sell([(cake, 1000), (tea, 1000)], TenderInput(kind: .card, amount: 3500, maskedPan: "622202******1234", authCode: "123456"))
        clock.advance(4.5 * 3600)
        _ = try await sell([(tea, 3000)], TenderInput(kind: .card, amount: 3000, maskedPan: "622202******1234", authCode: "123457"))
        clock.advance(3600)
        seq += 1
        _ = try await services.sales.refund(sale1.id, RefundInput(id: SaleID(rawValue: UUIDv7.make(now: clock.clock.now())), registerId: "POS-01",
                                                                  registerSeq: seq, shiftId: shift.id, lines: [RefundLineInput(line: 0, quantity: 1000)],
                                                                  reason: .customerReturn), by: owner)
        return Shop(tea: tea, cake: cake, shift: shift, day: before + 1, sale1: sale1)
    }

    /// A report's rows by key.
    static func rows(_ object: [String: Any]) -> [String: [String: Any]] {
        var result: [String: [String: Any]] = [:]
        for row in object["rows"] as? [[String: Any]] ?? [] { result[row["key"] as? String ?? ""] = row }
        return result
    }

    static func int(_ row: [String: Any]?, _ key: String) -> Int? { row?[key] as? Int }

    @Test(arguments: TestBackend.allCases)
    func salesFiguresMatchTheHandComputedFixture(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let shop = try await Self.trade(h)
            let day = ReportDay.text(shop.day)
            let range = "from=\(day)&to=\(day)"

            let byDay = try await h.send(.get, "/api/v1/reports/sales?\(range)", as: "merchantA.owner")
            #expect(byDay.status == .ok, "\(byDay.text)")
            let total = try #require(byDay.object["total"] as? [String: Any])
            #expect(Self.int(total, "sales") == 3 && Self.int(total, "amount") == 8500 && Self.int(total, "refunds") == 1)
            #expect(Self.int(total, "refundAmount") == 1000 && Self.int(total, "net") == 7500)
            // Tea: 6 sold less 1 refunded at 6.00 cost against 50.00 paid; the cake has no cost.
            #expect(Self.int(total, "cost") == 3000 && Self.int(total, "costedAmount") == 5000 && Self.int(total, "margin") == 2000)
            // The day before: one cake, 25.00 → +200.0 %.
            #expect(Self.int(total, "previousNet") == 2500 && total["changePercent"] as? Double == 200.0)
            #expect(byDay.object["previousFrom"] as? String == ReportDay.text(shop.day - 1))
            #expect(Array(Self.rows(byDay.object).keys) == [day])

            let hours = Self.rows(try await h.send(.get, "/api/v1/reports/sales?\(range)&by=hour", as: "merchantA.owner").object)
            #expect(Set(hours.keys) == ["10", "15", "16"])
            #expect(Self.int(hours["10"], "sales") == 2 && Self.int(hours["10"], "amount") == 5500)
            #expect(Self.int(hours["15"], "amount") == 3000 && Self.int(hours["16"], "refundAmount") == 1000 && Self.int(hours["16"], "net") == -1000)

            let tenders = Self.rows(try await h.send(.get, "/api/v1/reports/sales?\(range)&by=tender", as: "merchantA.owner").object)
            #expect(Self.int(tenders["cash"], "amount") == 2000 && Self.int(tenders["cash"], "refundAmount") == 1000)
            #expect(Self.int(tenders["card"], "sales") == 2 && Self.int(tenders["card"], "amount") == 6500)

            let products = try await h.send(.get, "/api/v1/reports/sales?\(range)&by=product", as: "merchantA.owner").object
            let byProduct = Self.rows(products)
            let tea = byProduct[shop.tea.id.rawValue], cake = byProduct[shop.cake.id.rawValue]
            #expect(Self.int(tea, "quantity") == 6000 && Self.int(tea, "refundQuantity") == 1000 && Self.int(tea, "net") == 5000)
            #expect(Self.int(tea, "margin") == 2000 && tea?["label"] as? String == "绿茶 (TEA-1)")
            #expect(Self.int(cake, "quantity") == 1000 && Self.int(cake, "net") == 2500 && cake?["margin"] == nil)
            let top = try #require(products["topProducts"] as? [[String: Any]])
            #expect(top.compactMap { $0["key"] as? String } == [shop.tea.id.rawValue, shop.cake.id.rawValue])

            let categories = Self.rows(try await h.send(.get, "/api/v1/reports/sales?\(range)&by=category", as: "merchantA.owner").object)
            #expect(Self.int(categories["drinks"], "net") == 5000 && Self.int(categories["bakery"], "net") == 2500)
            let members = Self.rows(try await h.send(.get, "/api/v1/reports/sales?\(range)&by=member", as: "merchantA.owner").object)
            #expect(Array(members.keys) == ["non_member"] && Self.int(members["non_member"], "net") == 7500)
            let cashiers = Self.rows(try await h.send(.get, "/api/v1/reports/sales?\(range)&by=cashier", as: "merchantA.owner").object)
            #expect(cashiers.values.first?["label"] as? String == h.user("merchantA.owner").username && Self.int(cashiers.values.first, "sales") == 3)
            let stores = Self.rows(try await h.send(.get, "/api/v1/reports/sales?\(range)&by=store", as: "merchantA.owner").object)
            #expect(stores[h.fixtures.storeA.rawValue]?["label"] as? String == "store-a" && Self.int(stores[h.fixtures.storeA.rawValue], "net") == 7500)
            // Two days: the day rows compare with the two days before.
            let two = try await h.send(.get, "/api/v1/reports/sales?from=\(ReportDay.text(shop.day - 1))&to=\(day)", as: "merchantA.owner").object
            #expect(Self.int(two["total"] as? [String: Any], "net") == 10_000)

            // CSV of the tenders: yuan with two decimals, a byte order mark and the total last.
            let csv = try await h.send(.get, "/api/v1/reports/sales.csv?\(range)&by=tender", as: "merchantA.owner")
            #expect(csv.status == .ok && csv.headers[.contentType]?.hasPrefix("text/csv") == true)
            let lines = csv.text.replacingOccurrences(of: "\u{FEFF}", with: "").split(separator: "\r\n").map(String.init)
            #expect(lines.first == "key,label,sales,amount,refunds,refund_amount,net,quantity,refund_quantity,discount,cost,margin,previous_net,change_percent")
            #expect(lines.contains("card,card,2,65.00,0,0.00,65.00,0.000,0.000,0.00,0.00,,0.00,"), "\(lines)")
            #expect(lines.contains("cash,cash,1,20.00,1,10.00,10.00,0.000,0.000,0.00,0.00,,25.00,-60.0"), "\(lines)")
            #expect(lines.last?.hasPrefix("total,total,3,85.00,1,10.00,75.00,") == true, "\(lines)")

            // Bad input is a problem, not a report.
            expectProblem(try await h.send(.get, "/api/v1/reports/sales?from=2026-13-01", as: "merchantA.owner"), 422)
            expectProblem(try await h.send(.get, "/api/v1/reports/sales?from=\(day)&to=\(ReportDay.text(shop.day - 1))", as: "merchantA.owner"), 422)
            expectProblem(try await h.send(.get, "/api/v1/reports/sales?by=weekday", as: "merchantA.owner"), 422)
        }
    }

    /// A terminal upload body with explicit approval.
    static func upload(_ items: [(id: String, amount: Int64, kind: String, approved: Bool)], at: Date) -> String {
        let time = ISO8601DateFormatter().string(from: at)
        let rows = items.map {
            #"{"id": "\#($0.id)", "at": "\#(time)", "kind": "\#($0.kind)", "amount": \#($0.amount), "currency": "CNY", "approved": \#($0.approved), "responseCode": "\#($0.approved ? "00" : "51")", "tender": "wechat", "entryMode": "qr"}"#
        }
        return #"{"transactions": [\#(rows.joined(separator: ","))]}"#
    }

    @Test(arguments: TestBackend.allCases)
    func transactionsRollUpByRegionMerchantAndDayAndEqualARebuild(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let shop = try await Self.trade(h)
            let device = try await Device.activate(h)
            let now = h.env.clock.clock.now()
            let body = Self.upload([("t-1", 10_000, "sale", true), ("t-2", 5_000, "sale", true), ("t-3", 2_000, "refund", true),
                                    ("t-4", 9_000, "sale", false)], at: now)
            #expect(try await device.send(.post, "/terminal/v1/transactions", json: body).status == .ok)
            // A retried upload stores nothing new and counts nothing twice.
            #expect(try await device.send(.post, "/terminal/v1/transactions", json: body).status == .ok)
            let day = ReportDay.text(RiskClock.day(of: now))
            let regions = try await h.send(.get, "/api/v1/reports/transactions?by=region&from=\(day)&to=\(day)", as: "admin")
            #expect(regions.status == .ok, "\(regions.text)")
            let region = try #require(Self.rows(regions.object)[h.fixtures.regionA.rawValue])
            #expect(region["label"] as? String == "region-a" && Self.int(region, "count") == 4 && Self.int(region, "approved") == 3)
            #expect(Self.int(region, "amount") == 15_000 && Self.int(region, "refundAmount") == 2_000 && region["approvalRate"] as? Double == 75.0)
            let merchants = Self.rows(try await h.send(.get, "/api/v1/reports/transactions?by=merchant&from=\(day)&to=\(day)", as: "admin").object)
            #expect(merchants[h.fixtures.merchantA.rawValue]?["label"] as? String == "merchant-a" && Self.int(merchants[h.fixtures.merchantA.rawValue], "amount") == 15_000)
            // A 90-day range is read from the merchant blocks and gives the same figures.
            let wide = try await h.send(.get, "/api/v1/reports/transactions?by=merchant", as: "admin").object
            #expect(Self.int(wide["total"] as? [String: Any], "count") == 4 && Self.int(wide["total"] as? [String: Any], "amount") == 15_000)
            let days = Self.rows(try await h.send(.get, "/api/v1/reports/transactions?by=day&from=\(day)&to=\(day)", as: "admin").object)
            #expect(Self.int(days[day], "count") == 4)
            let csv = try await h.send(.get, "/api/v1/reports/transactions.csv?by=region&from=\(day)&to=\(day)", as: "admin").text
            #expect(csv.contains("\(h.fixtures.regionA.rawValue),region-a,4,3,75.0,150.00,20.00"), "\(csv)")
            // Region B's people see none of it.
            #expect(Self.int(try await h.send(.get, "/api/v1/reports/transactions?by=day", as: "regionA.admin").object["total"] as? [String: Any], "count") == 4)

            // The rollups kept by the writes equal a rebuild from the stored history.
            _ = shop
            let database = h.env.services.database
            func snapshot() async throws -> [String] {
                try await database.session { db in
                    var lines: [String] = []
                    for (table, order) in [("report_sales_daily", "dimension, org_path, day, key"), ("report_transactions_daily", "org_path, day"),
                                           ("report_transaction_merchants", "span, start_day, org_path, merchant_id")] {
                        for row in try await db.raw("SELECT * FROM \(unsafeRaw: table) ORDER BY \(unsafeRaw: order)").all() {
                            lines.append(table + ": " + row.allColumns.sorted().map { column in
                                let text = (try? row.decode(column: column, as: String.self)) ?? (try? row.decode(column: column, as: Int64.self)).map(String.init)
                                return "\(column)=\(text ?? "?")"
                            }.joined(separator: " "))
                        }
                    }
                    return lines
                }
            }
            let kept = try await snapshot()
            #expect(kept.count > 20)
            let replayed = try await h.env.services.store.write { try await ReportsService.rebuild($0) }
            #expect(replayed == 5)
            let rebuilt = try await snapshot()
            #expect(kept == rebuilt)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func merchantsSeeOnlyTheirOwnStoresAndRolesSeeTheirSide(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let shop = try await Self.trade(h)
            let day = ReportDay.text(shop.day)
            // Merchant B sees none of A's sales, and A's store is unknown to it.
            let other = try await h.send(.get, "/api/v1/reports/sales?from=\(day)&to=\(day)", as: "merchantB.owner")
            #expect(other.status == .ok && Self.int(other.object["total"] as? [String: Any], "sales") == 0 && Self.rows(other.object).isEmpty)
            expectProblem(try await h.send(.get, "/api/v1/reports/sales?storeId=\(h.fixtures.storeA.rawValue)", as: "merchantB.owner"), 404)
            let own = try await h.send(.get, "/api/v1/reports/sales?from=\(day)&to=\(day)&storeId=\(h.fixtures.storeA.rawValue)", as: "merchantA.owner")
            #expect(Self.int(own.object["total"] as? [String: Any], "net") == 7500)

            // Finance sees money, technical staff the fleet, never the other.
            let admin = try await h.principal("admin")
            for (name, role) in [("finance", Role.finance), ("technical", Role.technical)] {
                _ = try await h.env.services.access.createUser(NewUser(orgId: h.fixtures.acquirer, username: name, displayName: name, role: role,
                                                                       password: Fixtures.password), by: admin)
            }
            let finance = try await Self.token(h, "finance"), technical = try await Self.token(h, "technical")
            let sales = try await h.send(.get, "/api/v1/reports/sales?from=\(day)&to=\(day)", token: finance)
            #expect(sales.status == .ok && Self.int(sales.object["total"] as? [String: Any], "net") == 7500)
            #expect(try await h.send(.get, "/api/v1/reports/transactions", token: finance).status == .ok)
            expectProblem(try await h.send(.get, "/api/v1/reports/estate", token: finance), 403)
            expectProblem(try await h.send(.get, "/api/v1/reports/sales", token: technical), 403)
            expectProblem(try await h.send(.get, "/api/v1/reports/transactions", token: technical), 403)
            expectProblem(try await h.send(.get, "/api/v1/reports/sales.csv", token: technical), 403)
            let estate = try await h.send(.get, "/api/v1/reports/estate", token: technical)
            #expect(estate.status == .ok, "\(estate.text)")
            #expect(estate.object["amount"] == nil && !estate.text.contains("amount"), "the fleet dashboard carries no money")
        }
    }

    /// An API token for a user (fixture or made in the test).
    static func token(_ h: Harness, _ user: String) async throws -> String {
        if let token = h.fixtures.tokens[user] { return token }
        let principal = try await h.env.services.access.principal(commandLineUser: user)
        return try await h.env.services.access.createToken(name: "\(user) token", scopes: [], expiresInDays: nil, by: principal).plaintext
    }

    @Test(arguments: TestBackend.allCases)
    func theEstateDashboardCountsTheFleet(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let device = try await Device.activate(h)
            _ = try await device.beat()
            _ = try await h.env.services.fleet.flushHeartbeats()
            let dashboard = try await h.send(.get, "/api/v1/reports/estate?days=7", as: "security")
            #expect(dashboard.status == .ok, "\(dashboard.text)")
            let object = dashboard.object
            #expect(object["terminals"] as? Int == 2 && object["deployed"] as? Int == 1 && object["online"] as? Int == 1)
            #expect(object["onlineRatio"] as? Double == 100.0)
            let states = (object["byState"] as? [[String: Any]] ?? []).reduce(into: [String: Int]()) { $0[$1["key"] as? String ?? ""] = $1["count"] as? Int }
            #expect(states == ["bound": 1, "in_stock": 1], "\(states)")
            let activations = try #require(object["activations"] as? [[String: Any]])
            #expect(activations.count == 7 && activations.last?["count"] as? Int == 1)
            let regions = try #require(object["byRegion"] as? [[String: Any]])
            #expect(regions.first?["label"] as? String == "region-a" && regions.first?["count"] as? Int == 2)
            #expect((object["openAlerts"] as? [[String: Any]])?.count == RiskSeverity.allCases.count)
            let csv = try await h.send(.get, "/api/v1/reports/estate.csv?days=7", as: "security").text
            #expect(csv.contains("state,bound,bound,1") && csv.contains("online,online,,1"), "\(csv)")
            expectProblem(try await h.send(.get, "/api/v1/reports/estate?days=0", as: "security"), 422)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func consolePagesDrawSVGChartsInBothLanguages(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let shop = try await Self.trade(h)
            let device = try await Device.activate(h)
            #expect(try await device.send(.post, "/terminal/v1/transactions", json: Self.upload([("c-1", 4_200, "sale", true)], at: h.env.clock.clock.now())).status == .ok)
            var jar = try await h.consoleSession("admin").0
            let day = ReportDay.text(shop.day)
            for (language, title) in [("en", "Sales statistics"), ("zh-CN", "销售统计")] {
                jar.cookies[CookieName.language] = language
                let page = try await h.browse(.get, "/console/reports?from=\(day)&to=\(day)&by=tender", jar: &jar)
                #expect(page.status == .ok && page.text.contains("lang=\"\(language)\"") && page.text.contains(title))
                #expect(page.text.contains("<svg") && page.text.contains("viewBox") && page.text.contains("75.00"), "\(language)")
                #expect(page.text.contains("/api/v1/reports/sales.csv?by=tender"))
                #expect(!page.text.contains("{{") && !page.text.contains("reports_"), "\(language): every string translated")
                let estate = try await h.browse(.get, "/console/reports/estate", jar: &jar)
                #expect(estate.status == .ok && estate.text.contains("<svg") && estate.text.contains("42.00"), "\(language)")
                #expect(estate.text.contains("id=\"reports-fleet\"") && estate.text.contains("id=\"reports-money\""))
                #expect(!estate.text.contains("{{") && !estate.text.contains("reports_"), "\(language): every string translated")
            }
            // A wrong date is a readable message on the page, not an error.
            jar.cookies[CookieName.language] = "en"
            let wrong = try await h.browse(.get, "/console/reports?from=yesterday", jar: &jar)
            #expect(wrong.status == .ok && wrong.text.contains("must be a date like"))
            // The merchant's owner has the statistics, not the fleet dashboard's fleet part.
            var owner = try await h.consoleSession("merchantA.owner").0
            let ownerPage = try await h.browse(.get, "/console/reports/estate", jar: &owner)
            #expect(ownerPage.status == .ok && !ownerPage.text.contains("id=\"reports-fleet\""))
            var cashier = try await h.consoleSession("storeA.cashier").0
            #expect(try await h.browse(.get, "/console/reports", jar: &cashier).status == .forbidden)
        }
    }

    /// `tillyard reports rebuild` on the demo installation gives back exactly the rollups its sales and
    /// payments left, is audited, and only an administrator at the top of the tree may run it.
    @Test func theRebuildCommandReproducesTheDemoRollups() async throws {
        guard CLITests.binaryIsBuilt() else { return }
        guard let (storage, location) = try await CLITests.freshStorage(.sqlite) else { return }
        #expect(try CLITests.run(["demo"], storage: storage).status == 0)
        func snapshot() async throws -> [String] {
            let database = try await Database.open(location)
            let lines = try await database.session { db in
                try await db.raw("""
                    SELECT dimension || ' ' || org_path || ' ' || CAST(day AS TEXT) || ' ' || key || ' ' || CAST(sales AS TEXT) || ' ' ||
                           CAST(amount AS TEXT) || ' ' || CAST(refund_amount AS TEXT) || ' ' || CAST(cost AS TEXT) AS line
                    FROM report_sales_daily ORDER BY dimension, org_path, day, key
                    """).all().map { try $0.decode(column: "line", as: String.self) }
                    + db.raw("SELECT org_path || ' ' || CAST(day AS TEXT) || ' ' || CAST(count AS TEXT) || ' ' || CAST(amount AS TEXT) AS line FROM report_transactions_daily ORDER BY org_path, day")
                    .all().map { try $0.decode(column: "line", as: String.self) }
            }
            await database.close()
            return lines
        }
        let kept = try await snapshot()
        #expect(kept.count > 100, "the demo's sales and payments left rollups")
        let refused = try CLITests.run(["reports", "rebuild", "--as", "lotus.owner"], storage: storage)
        #expect(refused.status != 0 && refused.output.contains("reports.fleet"), "\(refused.output)")
        let rebuilt = try CLITests.run(["reports", "rebuild"], storage: storage)
        #expect(rebuilt.status == 0 && rebuilt.output.contains("sales and refunds replayed"), "\(rebuilt.output)")
        #expect(try await snapshot() == kept)
        let audited = try CLITests.run(["audit", "verify"], storage: storage)
        #expect(audited.status == 0)
    }
}
