import Foundation
import SQLKit
import Testing
import TillyardKit
import TillyardServer
import TillyardStore
import TillyardTestSupport

/// Merchant onboarding on both engines: the file, its documents (checked, encrypted, verified),
/// the review with four eyes, MID assignment, risk, shared-account detection and scoping.
@Suite struct MerchantOnboardingTests {
    struct World {
        let services: AppServices
        let fixtures: Fixtures
        let documents: URL
        let admin: Principal
        let regionAdmin: Principal
        let security: Principal

        var merchants: MerchantService { services.merchants }

        static func make(_ database: Database) async throws -> World {
            let documents = FileManager.default.temporaryDirectory.appendingPathComponent("tillyard-docs-\(UUID().uuidString)")
            let services = AppServices(database: database, bcryptCost: 4, documents: documents)
            let fixtures = try await Fixtures.make(services.access)
            return World(services: services, fixtures: fixtures, documents: documents,
                         admin: try await services.access.principal(commandLineUser: "admin"),
                         regionAdmin: try await services.access.principal(commandLineUser: "regionA.admin"),
                         security: try await services.access.principal(commandLineUser: "security"))
        }

        func uploadRequired(_ merchant: OrgID, by principal: Principal) async throws {
            for kind in DocumentKind.required {
                _ = try await merchants.upload(merchant, kind: kind, filename: "\(kind.rawValue).png", bytes: DemoData.samplePNG, by: principal)
            }
        }
    }

    static func message(_ body: () async throws -> Void) async -> String? {
        do { try await body(); return nil } catch let error as DomainError { return error.message } catch { return "unexpected \(error)" }
    }

    @Test(arguments: TestBackend.allCases)
    func applyUploadSubmitApproveThenBind(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let world = try await World.make(database)
            defer { try? FileManager.default.removeItem(at: world.documents) }
            let merchants = world.merchants
            // A region administrator onboards a new merchant below their region.
            var file = try await merchants.apply(parentId: world.fixtures.regionA, tradingName: "莲花超市 Lotus", code: "M-LOTUS",
                                                 Fixtures.application(), by: world.regionAdmin)
            let id = file.merchant.id
            #expect(file.merchant.kind == .merchant && file.merchant.parentId == world.fixtures.regionA)
            var profile = try #require(file.profile)
            #expect(profile.status == .draft && profile.mid == nil && profile.riskLevel == .low)
            #expect(profile.settlementAccountMasked == "6222 **** **** 0123")
            #expect(file.missingDocuments == DocumentKind.required)

            // Incomplete files cannot be submitted.
            let early = await Self.message { _ = try await merchants.submit(id, by: world.regionAdmin) }
            #expect(early?.contains("the file lacks: business_licence, legal_representative_id, storefront") == true)
            try await world.uploadRequired(id, by: world.regionAdmin)
            file = try await merchants.submit(id, by: world.regionAdmin)
            #expect(file.profile?.status == .submitted && file.missingDocuments.isEmpty)
            // Nothing changes while it waits for review.
            let frozen = await Self.message {
                _ = try await merchants.upload(id, kind: .premises, filename: nil, bytes: DemoData.samplePNG, by: world.regionAdmin)
            }
            #expect(frozen?.contains("cannot change until it is reviewed") == true)

            // Four eyes: the submitter cannot decide; security can.
            await #expect(throws: DomainError.forbidden("you submitted this file; another reviewer must decide it")) {
                _ = try await merchants.approve(id, mid: nil, riskLevel: nil, note: nil, by: world.regionAdmin)
            }
            file = try await merchants.approve(id, mid: nil, riskLevel: .medium, note: "site visit done", by: world.security)
            profile = try #require(file.profile)
            // The MID is composed from 898, the area code and the category, then a sequence.
            #expect(profile.status == .approved && profile.mid == "898290054110001" && profile.riskLevel == .medium)
            #expect(profile.reviewedBy == "security" && profile.reviewNote == "site visit done")
            #expect(file.reviews.map(\.action) == ["approved", "submitted"])

            // Binding takes the five elements from the approved file.
            let model = try await world.services.estate.createModel(NewTerminalModel(
                manufacturer: "PAX", name: "A920", terminalClass: .smartAndroid, connectivity: ["4G"], ptsApproval: "4-30310",
                ptsExpiry: Date().addingTimeInterval(86400 * 365), unionPayCertified: true, unionPayCertificate: nil), by: world.admin)
            let terminal = try await world.services.estate.stockIn(StockIn(sn: "LOTUS-0001", tid: "10000001", modelId: model.id,
                                                                           ownerId: world.fixtures.regionA), by: world.admin)
            _ = try await world.services.estate.bind(terminal.id, BindRequest(merchantId: id, storeId: nil, placement: nil), by: world.regionAdmin)
            let binding = try #require(try await world.services.estate.dossier(terminal.id, by: world.admin).binding)
            #expect(binding.mid == "898290054110001" && binding.creditCode == "91350100M000100Y43")
            #expect(binding.settlementAccountMasked == "6222 **** **** 0123" && binding.placement.address == "上海市徐汇区漕溪北路 1 号")
            #expect(binding.settlementAccountFingerprint == profile.settlementAccountFingerprint)

            // Every step is in the audit trail; the clear account number is nowhere in the database.
            let (audited, leaked) = try await database.session { db in
                let audited = try await db.raw("SELECT COUNT(*) AS n FROM audit_events WHERE resource_type = 'merchant'")
                    .first()?.decode(column: "n", as: Int.self) ?? -1
                var leaked = 0
                for table in ["merchant_profiles", "audit_events", "bindings"] {
                    let rows = try await db.raw("SELECT * FROM \(unsafeRaw: table)").all()
                    for row in rows {
                        for column in row.allColumns {
                            if let text = (try? row.decode(column: column, as: String?.self)) ?? nil, text.contains("6222021234567890123") { leaked += 1 }
                        }
                    }
                }
                return (audited, leaked)
            }
            #expect(audited == 6)  // apply, three documents, submit, approve
            #expect(leaked == 0)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func rejectionNeedsReasonsAndTheApplicantResubmits(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let world = try await World.make(database)
            defer { try? FileManager.default.removeItem(at: world.documents) }
            let merchants = world.merchants
            let id = world.fixtures.merchantA
            _ = try await merchants.start(id, Fixtures.application(mcc: "7995", businessType: .mobile), by: world.admin)
            // A gambling category starts at high risk.
            #expect(try await merchants.file(id, by: world.admin).profile?.riskLevel == .high)
            try await world.uploadRequired(id, by: world.admin)
            _ = try await merchants.submit(id, by: world.admin)
            await #expect(throws: DomainError.self) { _ = try await merchants.reject(id, reasons: "   ", by: world.security) }
            var file = try await merchants.reject(id, reasons: "licence photo unreadable", by: world.security)
            #expect(file.profile?.status == .rejected && file.profile?.reviewNote == "licence photo unreadable")

            // Not bindable while rejected.
            let model = try await world.services.estate.createModel(NewTerminalModel(
                manufacturer: "PAX", name: "A920", terminalClass: .smartAndroid, connectivity: ["4G"], ptsApproval: "4-30310",
                ptsExpiry: Date().addingTimeInterval(86400 * 365), unionPayCertified: true, unionPayCertificate: nil), by: world.admin)
            let terminal = try await world.services.estate.stockIn(StockIn(sn: "PAX-0001", tid: "10000001", modelId: model.id), by: world.admin)
            let refusal = await Self.message {
                _ = try await world.services.estate.bind(terminal.id, BindRequest(merchantId: id, storeId: nil, placement: nil), by: world.admin)
            }
            #expect(refusal?.contains("has not passed onboarding review") == true)

            // The applicant replaces the licence, corrects the category (keeping the account) and resubmits.
            let licence = try #require(file.documents.first { $0.kind == .businessLicence })
            try await merchants.removeDocument(id, licence.id, by: world.admin)
            #expect(try await merchants.file(id, by: world.admin).missingDocuments == [.businessLicence])
            _ = try await merchants.upload(id, kind: .businessLicence, filename: "licence-v2.pdf", bytes: Array("%PDF-1.7\n%%EOF\n".utf8),
                                           by: world.admin)
            let version = try #require(file.profile?.version)
            file = try await merchants.update(id, Fixtures.application(account: nil, mcc: "5411"), expectedVersion: version, by: world.admin)
            #expect(file.profile?.settlementAccountMasked == "6222 **** **** 0123" && file.profile?.mcc == "5411")
            // Before its first approval the starting risk follows the corrected category.
            #expect(file.profile?.riskLevel == .low)
            // A stale version is refused.
            let stale = await Self.message { _ = try await merchants.update(id, Fixtures.application(), expectedVersion: version, by: world.admin) }
            #expect(stale?.contains("changed by someone else") == true)
            _ = try await merchants.submit(id, by: world.admin)
            file = try await merchants.approve(id, mid: "898290054119999", riskLevel: nil, note: nil, by: world.security)
            #expect(file.profile?.mid == "898290054119999")
            #expect(file.reviews.map(\.action) == ["approved", "submitted", "rejected", "submitted"])

            // Risk changes need a reason and a reviewer; merchants cannot rate themselves.
            let owner = try await world.services.access.principal(commandLineUser: "merchantA.owner")
            await #expect(throws: DomainError.forbidden("your role does not allow merchants.review")) {
                _ = try await merchants.setRisk(id, .low, reason: "trust me", by: owner)
            }
            file = try await merchants.setRisk(id, .high, reason: "chargeback spike", by: world.security)
            #expect(file.profile?.riskLevel == .high && file.reviews.first?.action == "risk low → high")
            #expect(file.reviews.first?.note == "chargeback spike")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func documentsAreCheckedEncryptedAndVerified(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let world = try await World.make(database)
            defer { try? FileManager.default.removeItem(at: world.documents) }
            let merchants = world.merchants
            let id = world.fixtures.merchantA
            _ = try await merchants.start(id, Fixtures.application(), by: world.admin)

            // Type by content, not by name; size bounded; empty refused.
            let script = Array("<script>alert(1)</script>".utf8)
            await #expect(throws: DomainError.invalid("file", "must be a JPEG or PNG image or a PDF document")) {
                _ = try await merchants.upload(id, kind: .storefront, filename: "photo.png", bytes: script, by: world.admin)
            }
            let huge = DemoData.samplePNG + [UInt8](repeating: 0, count: MerchantRules.maxDocumentBytes)
            await #expect(throws: DomainError.invalid("file", "is larger than 5 MB")) {
                _ = try await merchants.upload(id, kind: .storefront, filename: nil, bytes: huge, by: world.admin)
            }
            await #expect(throws: DomainError.invalid("file", "is empty")) {
                _ = try await merchants.upload(id, kind: .storefront, filename: nil, bytes: [], by: world.admin)
            }

            // A PDF with a recognisable text is stored encrypted: the bytes on disk do not contain it.
            let secret = Array("%PDF-1.4\nID 310101199001011234 王芳\n%%EOF\n".utf8)
            let document = try await merchants.upload(id, kind: .legalRepresentativeId, filename: "../../etc/王芳 ID.pdf", bytes: secret,
                                                      by: world.admin)
            #expect(document.filename == "王芳 ID.pdf" && document.format == .pdf && document.size == secret.count)
            let files = FileManager.default.enumerator(at: world.documents, includingPropertiesForKeys: nil)?
                .compactMap { $0 as? URL }.filter { $0.pathExtension == "bin" } ?? []
            #expect(files.count == 1)
            let onDisk = try Data(contentsOf: try #require(files.first))
            #expect(onDisk.count > secret.count && onDisk.range(of: Data("310101199001011234".utf8)) == nil)
            let (record, bytes) = try await merchants.document(id, document.id, by: world.admin)
            #expect(bytes == secret && record.sha256 == document.sha256)

            // The merchant's owner may read their own documents; merchant B's owner may not even see them.
            let ownerA = try await world.services.access.principal(commandLineUser: "merchantA.owner")
            let ownerB = try await world.services.access.principal(commandLineUser: "merchantB.owner")
            #expect(try await merchants.document(id, document.id, by: ownerA).1 == secret)
            await #expect(throws: DomainError.notFound(resource: "merchant", id: id.rawValue)) {
                _ = try await merchants.document(id, document.id, by: ownerB)
            }

            // Tampering on disk is detected, never served.
            var altered = [UInt8](onDisk)
            altered[altered.count - 1] ^= 0xFF
            try Data(altered).write(to: try #require(files.first))
            let tampered = await Self.message { _ = try await merchants.document(id, document.id, by: world.admin) }
            #expect(tampered?.contains("cannot be decrypted") == true)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func scopingMIDUniquenessAndSharedAccounts(backend: TestBackend) async throws {
        try await TestDatabase.with(backend) { database in
            let world = try await World.make(database)
            defer { try? FileManager.default.removeItem(at: world.documents) }
            let merchants = world.merchants
            try await Fixtures.onboard(world.fixtures.merchantA, services: world.services, mid: "898290054110001")
            // Merchant B in the other region is paid into the same account: the reviewer is told.
            _ = try await merchants.start(world.fixtures.merchantB, Fixtures.application(creditCode: "91440300MA5DC0XX2P"), by: world.admin)
            try await world.uploadRequired(world.fixtures.merchantB, by: world.admin)
            let submitted = try await merchants.submit(world.fixtures.merchantB, by: world.admin)
            #expect(submitted.sharingAccount.map(\.id) == [world.fixtures.merchantA])
            // Region A's administrator cannot see merchant B, nor learn about it through A's file.
            await #expect(throws: DomainError.notFound(resource: "merchant", id: world.fixtures.merchantB.rawValue)) {
                _ = try await merchants.file(world.fixtures.merchantB, by: world.regionAdmin)
            }
            let seenFromA = try await merchants.file(world.fixtures.merchantA, by: world.regionAdmin)
            #expect(seenFromA.sharingAccount.isEmpty)
            let listed = try await merchants.merchants(MerchantFilter(), page: PageRequest(limit: 50), by: world.regionAdmin).items
            #expect(listed.map(\.merchant.id) == [world.fixtures.merchantA])
            let queue = try await merchants.merchants(MerchantFilter(status: .submitted), page: PageRequest(limit: 50), by: world.security).items
            #expect(queue.map(\.merchant.id) == [world.fixtures.merchantB])

            // A MID belongs to one merchant of the acquirer.
            let taken = await Self.message {
                _ = try await merchants.approve(world.fixtures.merchantB, mid: "898290054110001", riskLevel: nil, note: nil, by: world.security)
            }
            #expect(taken == "MID 898290054110001 already belongs to another merchant")
            // Without a MID the next of the same area and category is assigned.
            let approved = try await merchants.approve(world.fixtures.merchantB, mid: nil, riskLevel: nil, note: nil, by: world.security)
            #expect(approved.profile?.mid == "898290054110002")
            // Cashiers see no onboarding at all.
            let cashier = try await world.services.access.principal(commandLineUser: "storeA.cashier")
            await #expect(throws: DomainError.forbidden("your role does not allow merchants.read")) {
                _ = try await merchants.merchants(MerchantFilter(), page: PageRequest(limit: 10), by: cashier)
            }
        }
    }
}
