import Foundation
import SQLKit
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// Members on both engines: tiers that follow spend up and down, points and stored-value ledgers
/// that always sum to the balances (posted in the sale's and refund's own transaction), stored-value
/// limits, refund reversal, masking by role, audited phone reads, erasure and key rotation.
@Suite struct MemberStoreTests {
    /// A store with wine (member price) and rice, a cashier, an owner and one member.
    struct Club {
        let services: AppServices
        let fixtures: Fixtures
        let clock: TestClock
        let owner: Principal
        let cashier: Principal
        let wine: Product
        let rice: Product
        let key: Data
        var members: MemberService { services.members }
        var sales: SalesService { services.sales }

        static func with(_ backend: TestBackend, _ body: (Club) async throws -> Void) async throws {
            try await TestDatabase.with(backend) { database in
                let clock = TestClock()
                let key = AccountKey.random()
                let services = AppServices(database: database, bcryptCost: 4, clock: clock.clock, accountKey: key)
                let fixtures = try await Fixtures.make(services.access)
                let owner = try await services.access.principal(commandLineUser: "merchantA.owner")
                let cashier = try await services.access.principal(commandLineUser: "storeA.cashier")
                let wine = try await services.catalog.create(ProductInput(sku: "WINE", nameZh: "长城干红", category: "酒水", price: 60_000, memberPrice: 55_000),
                                                             merchantId: nil, by: owner)
                let rice = try await services.catalog.create(ProductInput(sku: "RICE", nameZh: "东北大米", category: "粮油", price: 5_000),
                                                             merchantId: nil, by: owner)
                clock.advance(60)
                _ = try await services.sales.openShift(storeId: nil, registerId: "R1", openingFloat: 0, by: cashier)
                try await body(Club(services: services, fixtures: fixtures, clock: clock, owner: owner, cashier: cashier, wine: wine, rice: rice, key: key))
            }
        }

        func sale(_ seq: Int64, _ lines: [SaleLineInput], tenders: [TenderInput], member: MemberView?) -> SaleInput {
            SaleInput(id: .generate(), registerId: "R1", registerSeq: seq, lines: lines, tenders: tenders, memberId: member?.id.rawValue)
        }

        func refund(_ sale: Sale, seq: Int64) async throws -> Sale {
            try await sales.refund(sale.id, RefundInput(id: .generate(), registerId: "R1", registerSeq: seq, lines: [], reason: .customerReturn), by: owner)
        }

        func stored(_ id: MemberID) async throws -> Member {
            try #require(try await services.store.read { try await $0.members.find(id) })
        }

        /// The ledger sums to both balances, and every line's balance is the running sum up to it.
        func expectLedgerMatches(_ id: MemberID, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let member = try await stored(id)
            let sums = try await services.store.read { try await $0.members.ledgerSums(member: id) }
            #expect(sums[.points, default: 0] == member.points, sourceLocation: sourceLocation)
            #expect(sums[.storedValue, default: 0] == member.storedValue, sourceLocation: sourceLocation)
            let entries = try await services.store.read { try await $0.members.ledger(member: id, page: PageRequest(limit: 500)) }.items.reversed()
            var running: [MemberBalance: Int64] = [:]
            for entry in entries {
                running[entry.balance, default: 0] += entry.delta
                #expect(running[entry.balance] == entry.balanceAfter, "line \(entry.reason.rawValue) \(entry.delta)", sourceLocation: sourceLocation)
                #expect(entry.balanceAfter >= 0, sourceLocation: sourceLocation)
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func tiersPointsAndRefundReversal(backend: TestBackend) async throws {
        try await Club.with(backend) { club in
            let member = try await club.members.enroll(MemberInput(phone: "138 0013 8000", name: "王芳", birthday: "1990-05-12"), merchantId: nil, by: club.owner)
            #expect(member.tier == "basic" && member.points == 0 && member.cardNumber.count == 12)

            // The cashier finds the member by phone and by the member QR code.
            let found = try await club.members.lookup("13800138000", storeId: nil, by: club.cashier)
            #expect(found.member.id == member.id && found.member.phone == "138****8000" && found.member.name == "王*" && found.member.masked)
            #expect(try await club.members.lookup(member.qr, storeId: nil, by: club.cashier).member.id == member.id)
            await #expect(throws: DomainError.notFound(resource: "member", id: "13900000000")) {
                _ = try await club.members.lookup("13900000000", storeId: nil, by: club.cashier)
            }

            // Two bottles at the member price: ¥1,100 → 1,100 points, and spend past ¥1,000 makes the member silver.
            let first = try await club.sales.complete(club.sale(1, [SaleLineInput(productId: club.wine.id, quantity: 2000)],
                                                                tenders: [TenderInput(kind: .cash, tendered: 110_000)], member: member), by: club.cashier)
            #expect(first.total == 110_000 && first.memberId == member.id.rawValue)
            var now = try await club.stored(member.id)
            #expect(now.points == 1_100 && now.lifetimeSpend == 110_000 && now.tier == "silver" && now.visits == 1)
            try await club.expectLedgerMatches(member.id)

            // Silver earns ×1.2; 500 points pay ¥5 of the next bottle: (550 − 5) yuan × 1.2 = 654 points.
            let second = try await club.sales.complete(club.sale(2, [SaleLineInput(productId: club.wine.id, quantity: 1000)],
                                                                 tenders: [TenderInput(kind: .points, amount: 500), TenderInput(kind: .cash, tendered: 60_000)],
                                                                 member: member), by: club.cashier)
            #expect(second.total == 55_000)
            now = try await club.stored(member.id)
            #expect(now.points == 1_100 - 500 + 654 && now.lifetimeSpend == 110_000 + 54_500)
            try await club.expectLedgerMatches(member.id)

            // More points than held are refused, and nothing of that sale is kept.
            await #expect(throws: DomainError.self) {
                _ = try await club.sales.complete(club.sale(3, [SaleLineInput(productId: club.wine.id, quantity: 1000)],
                                                            tenders: [TenderInput(kind: .points, amount: 5_000), TenderInput(kind: .cash, tendered: 60_000)],
                                                            member: member), by: club.cashier)
            }
            #expect(try await club.stored(member.id).points == 1_254)

            // Refunding the first sale takes its 1,100 points back and the member falls back to basic.
            _ = try await club.refund(first, seq: 3)
            now = try await club.stored(member.id)
            #expect(now.points == 154 && now.lifetimeSpend == 54_500 && now.tier == "basic")
            try await club.expectLedgerMatches(member.id)

            // Refunding the second gives the 500 redeemed points back and takes its 654 earned.
            _ = try await club.refund(second, seq: 4)
            now = try await club.stored(member.id)
            #expect(now.points == 0 && now.lifetimeSpend == 0 && now.lifetimePoints == 0)
            try await club.expectLedgerMatches(member.id)
            let history = try await club.members.purchases(member.id, by: club.cashier)
            #expect(history.map(\.kind) == [.refund, .refund, .sale, .sale])

            // A gold tier with 2% off prices the cart through the quote and the sale alike.
            var program = try await club.members.program(merchantId: nil, by: club.owner)
            program.tiers[0].percentOff = 1_000
            program = try await club.members.saveProgram(program, expectedVersion: 0, by: club.owner)
            let quote = try await club.sales.quote(CartQuoteInput(lines: [SaleLineInput(productId: club.rice.id, quantity: 1000)], memberId: member.id.rawValue),
                                                   by: club.cashier)
            #expect(quote.total == 4_500 && quote.lines[0].promotionId == program.tiers[0].promotionId)
            let tierSale = try await club.sales.complete(club.sale(5, [SaleLineInput(productId: club.rice.id, quantity: 1000)],
                                                                   tenders: [TenderInput(kind: .cash, tendered: 5_000)], member: member), by: club.cashier)
            #expect(tierSale.total == 4_500)
            await #expect(throws: DomainError.forbidden("your role does not allow members.manage")) {
                _ = try await club.members.saveProgram(program, expectedVersion: 1, by: club.cashier)
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func storedValueNeverNegativeNorAboveTheLimit(backend: TestBackend) async throws {
        try await Club.with(backend) { club in
            let member = try await club.members.enroll(MemberInput(phone: "13900139000", name: "Li Lei"), merchantId: nil, by: club.owner)
            await #expect(throws: DomainError.forbidden("your role does not allow members.manage")) {
                _ = try await club.members.topUp(member.id, amount: 10_000, tender: .cash, note: nil, by: club.cashier)
            }
            var view = try await club.members.topUp(member.id, amount: 400_000, tender: .wechat, note: "opening", by: club.owner)
            #expect(view.storedValue == 400_000)
            // The program's limit is ¥5,000 per member.
            await #expect(throws: DomainError.self) { _ = try await club.members.topUp(member.id, amount: 100_001, tender: .cash, note: nil, by: club.owner) }
            view = try await club.members.topUp(member.id, amount: 100_000, tender: .cash, note: nil, by: club.owner)
            #expect(view.storedValue == 500_000)

            // Spend by stored value needs the member; more than the balance is refused.
            let rice = [SaleLineInput(productId: club.rice.id, quantity: 1000)]
            await #expect(throws: DomainError.invalid("memberId", "stored value and points are paid by a recognised member: look the member up first")) {
                _ = try await club.sales.complete(club.sale(1, rice, tenders: [TenderInput(kind: .storedValue, amount: 5_000, reference: view.cardNumber)], member: nil),
                                                  by: club.cashier)
            }
            let spent = try await club.sales.complete(club.sale(1, rice, tenders: [TenderInput(kind: .storedValue, amount: 5_000, reference: view.cardNumber)],
                                                                member: view), by: club.cashier)
            #expect(try await club.stored(member.id).storedValue == 495_000)
            let lots = [SaleLineInput(productId: club.wine.id, quantity: 10_000)] // ¥5,500 at the member price
            await #expect(throws: DomainError.invalid("tenders", "the member holds \(Money(minorUnits: 495_000)) stored value")) {
                _ = try await club.sales.complete(club.sale(2, lots, tenders: [TenderInput(kind: .storedValue, amount: 550_000, reference: view.cardNumber)],
                                                            member: view), by: club.cashier)
            }
            #expect(try await club.stored(member.id).storedValue == 495_000)

            // The refund puts the stored value back.
            let refund = try await club.refund(spent, seq: 2)
            #expect(refund.tenders.map(\.kind) == [.storedValue])
            #expect(try await club.stored(member.id).storedValue == 500_000)
            try await club.expectLedgerMatches(member.id)
            let reasons = try await club.members.ledger(member.id, page: PageRequest(), by: club.cashier).items.map(\.reason)
            #expect(reasons == [.refund, .earnReversal, .spend, .earn, .topUp, .topUp])
        }
    }

    /// Cash taken for a top-up at a till goes into that till's drawer in the same transaction, so
    /// the shift's expected cash still matches what the drawer holds; anything else moves nothing.
    @Test(arguments: TestBackend.allCases)
    func cashTopUpAtATillGoesIntoItsDrawer(backend: TestBackend) async throws {
        try await Club.with(backend) { club in
            let member = try await club.members.enroll(MemberInput(phone: "13700137000", name: "Han Meimei"), merchantId: nil, by: club.owner)
            let shift = try await club.sales.openShift(storeId: club.fixtures.storeA, registerId: "R2", openingFloat: 10_000, by: club.owner)
            _ = try await club.members.topUp(member.id, amount: 20_000, tender: .cash, note: nil, shiftId: shift.id, by: club.owner)
            #expect(try await club.sales.shift(shift.id, by: club.owner).cashIn == 20_000)
            let moves = try await club.sales.movements(of: shift.id, by: club.owner)
            #expect(moves.map(\.amount) == [20_000] && moves.allSatisfy { $0.direction == .in && $0.reason.contains(member.cardNumber) })

            await #expect(throws: DomainError.invalid("shiftId", "only cash goes into a shift's drawer")) {
                _ = try await club.members.topUp(member.id, amount: 5_000, tender: .card, note: nil, shiftId: shift.id, by: club.owner)
            }
            // A shift that cannot be found undoes the whole top-up: balance, ledger and drawer.
            await #expect(throws: DomainError.self) {
                _ = try await club.members.topUp(member.id, amount: 5_000, tender: .cash, note: nil, shiftId: .generate(), by: club.owner)
            }
            let merchantB = try await club.services.access.principal(commandLineUser: "merchantB.owner")
            await #expect(throws: DomainError.self, "another merchant's owner cannot reach this member or shift") {
                _ = try await club.members.topUp(member.id, amount: 5_000, tender: .cash, note: nil, shiftId: shift.id, by: merchantB)
            }
            #expect(try await club.stored(member.id).storedValue == 20_000)
            #expect(try await club.sales.shift(shift.id, by: club.owner).cashIn == 20_000)
            try await club.expectLedgerMatches(member.id)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func maskingAuditedReadsErasureAndKeyRotation(backend: TestBackend) async throws {
        try await Club.with(backend) { club in
            let member = try await club.members.enroll(MemberInput(phone: "13800138000", name: "王芳", birthday: "05-12", tags: ["VIP"],
                                                                   consent: MemberConsent(marketing: true)), merchantId: nil, by: club.owner)
            // Lists: phones always masked; names and birthdays only for members.privacy.
            let cashierView = try await club.members.list(merchantId: nil, filter: MemberFilter(), page: PageRequest(), by: club.cashier).items
            #expect(cashierView.map(\.phone) == ["138****8000"] && cashierView.map(\.name) == ["王*"] && cashierView[0].birthday == nil)
            let ownerView = try await club.members.list(merchantId: nil, filter: MemberFilter(tag: "VIP"), page: PageRequest(), by: club.owner).items
            #expect(ownerView.map(\.phone) == ["138****8000"] && ownerView.map(\.name) == ["王芳"] && ownerView[0].birthday == "05-12")
            let other = try await club.services.access.principal(commandLineUser: "merchantB.owner")
            await #expect(throws: DomainError.notFound(resource: "member", id: member.id.rawValue)) { _ = try await club.members.member(member.id, by: other) }

            // The full number: members.privacy only, every read audited.
            await #expect(throws: DomainError.forbidden("your role does not allow members.privacy")) { _ = try await club.members.revealPhone(member.id, by: club.cashier) }
            #expect(try await club.members.revealPhone(member.id, by: club.owner) == "13800138000")
            let reads = try await club.services.store.read {
                try await $0.audit.list(under: "/", filter: AuditFilter(action: "member.phone_read", resourceId: member.id.rawValue), page: PageRequest())
            }.items
            #expect(reads.count == 1 && reads[0].actor.name == "merchanta.owner (cli)")

            // At rest: no phone or name in clear anywhere in the row.
            let row = try await club.services.database.session { db in
                try await db.raw("SELECT phone_hash, phone_sealed, name_sealed, key_id FROM members").all()
            }
            let stored = try row.map { "\(try $0.decode(column: "phone_hash", as: String.self)) \(try $0.decode(column: "phone_sealed", as: String.self)) \(try $0.decode(column: "name_sealed", as: String.self))" }
            #expect(stored.count == 1 && !stored[0].contains("13800138000") && !stored[0].contains("8000") && !stored[0].contains("王芳"))
            #expect(try row[0].decode(column: "key_id", as: String.self) == "k1")

            // Rotation: a new key seals; the old one still opens until every row is re-sealed.
            let k2 = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
            let rotated = MemberService(store: club.services.store, keyring: .installation(club.key, extra: [("k2", k2)]), clock: club.clock.clock)
            #expect(try await rotated.member(member.id, by: club.owner).name == "王芳", "k1 rows open with k2 configured")
            let admin = try await club.services.access.principal(commandLineUser: "admin")
            #expect(try await rotated.rotateKeys(by: admin) == 1)
            #expect(try await rotated.rotateKeys(by: admin) == 0)
            #expect(try await club.stored(member.id).contact.keyId == "k2")
            #expect(try await rotated.lookup("13800138000", storeId: nil, by: club.cashier).member.id == member.id, "lookups survive rotation")
            await #expect(throws: DomainError.conflict("member key k2 is not configured")) { _ = try await club.members.member(member.id, by: club.owner) }

            // Erasure keeps totals and drops personal data; stored value must be paid out first.
            _ = try await rotated.topUp(member.id, amount: 1_000, tender: .cash, note: nil, by: club.owner)
            let current = try await rotated.member(member.id, by: club.owner)
            await #expect(throws: DomainError.conflict("member \(current.cardNumber) still holds \(Money(minorUnits: 1_000)) stored value; pay it out first")) {
                _ = try await rotated.erase(member.id, expectedVersion: current.version, by: club.owner)
            }
            let plain = try await rotated.enroll(MemberInput(phone: "13700137000", name: "张三"), merchantId: nil, by: club.owner)
            let bought = try await club.sales.complete(club.sale(1, [SaleLineInput(productId: club.rice.id, quantity: 1000)],
                                                                 tenders: [TenderInput(kind: .cash, tendered: 5_000)], member: plain), by: club.cashier)
            let export = try await rotated.export(plain.id, by: club.owner)
            #expect(export.phone == "13700137000" && export.name == "张三" && export.purchases.map(\.saleId) == [bought.id] && export.ledger.count == 1)
            let erased = try await rotated.erase(plain.id, expectedVersion: plain.version, by: club.owner)
            #expect(erased.phone == nil && erased.name == nil && erased.erasedAt != nil && erased.points == 0 && erased.lifetimeSpend == 5_000)
            await #expect(throws: DomainError.self) { _ = try await rotated.lookup("13700137000", storeId: nil, by: club.cashier) }
            #expect(try await club.sales.sale(bought.id, by: club.owner).total == 5_000, "the sale keeps its total")
            #expect(try await rotated.purchases(plain.id, by: club.owner).map(\.total) == [5_000])
            try await club.expectLedgerMatches(plain.id)
            #expect(try await rotated.enroll(MemberInput(phone: "13700137000"), merchantId: nil, by: club.owner).phone == "137****7000",
                    "an erased phone can enrol again")
            try await AccessHarnessCheck.chainIntact(club.services)
        }
    }
}

/// The audit chain of a services instance verifies.
enum AccessHarnessCheck {
    static func chainIntact(_ services: AppServices, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let result = try await services.access.verifyAuditChain(batchSize: 50)
        #expect(result.firstBreak == nil, sourceLocation: sourceLocation)
    }
}
