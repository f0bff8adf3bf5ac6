import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// Merchant onboarding as an integration and a browser would use it: JSON files, raw and
/// multipart uploads, downloads, the review, and clear errors for bad input.
@Suite struct MerchantAPITests {
    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
    }

    static let profile = #"""
        "legalName": "港湾咖啡有限公司", "creditCode": "91350100M000100Y43", "mcc": "5814", "areaCode": "2900",
        "businessType": "fixed", "businessHours": "07:30-21:00",
        "address": {"address": "上海市静安区南京西路 1 号", "latitude": 31.23, "longitude": 121.46},
        "settlementAccountName": "港湾咖啡有限公司", "settlementBank": "招商银行上海分行", "settlementAccount": "6225 8812 3456 7890",
        "contacts": [{"role": "法定代表人", "name": "陈明", "phone": "13900139000"}]
        """#

    /// Sends raw bytes with an API token.
    static func upload(_ h: Harness, _ uri: String, as user: String, bytes: [UInt8], type: String = "application/octet-stream") async throws -> TestResponse {
        try await h.client.execute(uri: uri, method: .post,
                                   headers: [.authorization: "Bearer \(h.token(user))", .contentType: type],
                                   body: ByteBuffer(bytes: bytes))
    }

    @Test(arguments: TestBackend.allCases)
    func onboardingThroughTheAPI(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            // A new merchant with its file, below region A.
            let created = try await h.send(.post, "/api/v1/merchants", as: "regionA.admin", json: """
                {"parentId": "\(h.fixtures.regionA.rawValue)", "name": "港湾咖啡 Harbour Coffee", "code": "M-HARB", \(Self.profile)}
                """)
            #expect(created.status == .created, "\(created.text)")
            let merchant = try #require(try Self.json(created)["merchant"] as? [String: Any])
            let id = try #require(merchant["id"] as? String)
            #expect(merchant["status"] as? String == "draft" && merchant["settlementAccount"] as? String == "6225 **** **** 7890")
            #expect(merchant["businessHours"] as? String == "07:30-21:00")
            #expect(!created.text.contains("6225881234567890") && !created.text.contains("Fingerprint"))

            // Bad input is named: an unknown field, a wrong check character, a bad phone.
            let typo = try await h.send(.post, "/api/v1/merchants", as: "regionA.admin", json: """
                {"parentId": "\(h.fixtures.regionA.rawValue)", "name": "x", "code": "X", "legalname": "x", \(Self.profile)}
                """)
            #expect(typo.status == .unprocessableContent && typo.text.contains("legalname"))
            let badCredit = try await h.send(.put, "/api/v1/merchants/\(id)/profile", as: "regionA.admin",
                                             json: "{\"version\": 1, \(Self.profile.replacingOccurrences(of: "Y43", with: "Y44"))}")
            #expect(badCredit.status == .unprocessableContent && badCredit.text.contains("check character"), "\(badCredit.text)")

            // Uploads: checked by content and size, kind required.
            let base = "/api/v1/merchants/\(id)/documents"
            let gif = try await Self.upload(h, base + "?kind=storefront", as: "regionA.admin", bytes: Array("GIF89a....".utf8))
            #expect(gif.status == .unprocessableContent && gif.text.contains("JPEG or PNG image or a PDF"))
            let noKind = try await Self.upload(h, base, as: "regionA.admin", bytes: DemoData.samplePNG)
            #expect(noKind.status == .unprocessableContent && noKind.text.contains("kind"))
            let big = try await Self.upload(h, base + "?kind=storefront", as: "regionA.admin",
                                            bytes: DemoData.samplePNG + [UInt8](repeating: 0, count: MerchantRules.maxDocumentBytes))
            #expect(big.status == .contentTooLarge && big.headers[.contentType] == "application/problem+json")
            var documentIds: [String] = []
            for kind in DocumentKind.required {
                let uploaded = try await Self.upload(h, base + "?kind=\(kind.rawValue)&filename=\(kind.rawValue).png", as: "regionA.admin",
                                                     bytes: DemoData.samplePNG, type: "image/png")
                #expect(uploaded.status == .created, "\(uploaded.text)")
                documentIds.append(try #require(try Self.json(uploaded)["id"] as? String))
            }
            let download = try await h.send(.get, "\(base)/\(documentIds[0])", as: "regionA.admin")
            #expect(download.status == .ok && Array(buffer: download.body) == DemoData.samplePNG)
            #expect(download.headers[.contentType] == "image/png")
            #expect(download.headers[.contentDisposition]?.hasPrefix("attachment;") == true)

            // Submit; the submitter cannot approve (403, audited); security approves with a MID.
            #expect(try await h.send(.post, "/api/v1/merchants/\(id)/submit", as: "regionA.admin").status == .ok)
            let selfApproval = try await h.send(.post, "/api/v1/merchants/\(id)/approve", as: "regionA.admin", json: "{}")
            #expect(selfApproval.status == .forbidden)
            let queue = try await h.send(.get, "/api/v1/merchants?status=submitted", as: "security")
            #expect(queue.items.compactMap { $0["id"] as? String } == [id])
            let approved = try await h.send(.post, "/api/v1/merchants/\(id)/approve", as: "security",
                                            json: #"{"riskLevel": "medium", "note": "visited"}"#)
            #expect(approved.status == .ok, "\(approved.text)")
            let file = try Self.json(approved)
            let body = try #require(file["merchant"] as? [String: Any])
            #expect(body["mid"] as? String == "898290058140001" && body["riskLevel"] as? String == "medium")
            #expect((file["reviews"] as? [[String: Any]])?.count == 2)
            // An approved file is frozen: documents cannot be removed.
            let remove = try await h.send(.delete, "\(base)/\(documentIds[0])", as: "regionA.admin")
            #expect(remove.status == .conflict && remove.text.contains("reopen"))
            // The list filters by MID; an unknown status is a clear error.
            let byMID = try await h.send(.get, "/api/v1/merchants?mid=898290058140001", as: "admin")
            #expect(byMID.items.count == 1)
            let badStatus = try await h.send(.get, "/api/v1/merchants?status=maybe", as: "admin")
            #expect(badStatus.status == .unprocessableContent && badStatus.text.contains("draft, submitted, approved, rejected"))
            // Merchant B's owner cannot see the file or its documents.
            #expect(try await h.send(.get, "/api/v1/merchants/\(id)", as: "merchantB.owner").status == .notFound)
            #expect(try await h.send(.get, "\(base)/\(documentIds[0])", as: "merchantB.owner").status == .notFound)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func consoleUploadsMultipartAndReviews(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            _ = try await h.env.services.merchants.start(h.fixtures.merchantA, Fixtures.application(),
                                                         by: try await h.principal("admin"))
            let id = h.fixtures.merchantA.rawValue
            var (owner, csrf) = try await h.consoleSession("merchantA.owner")
            let page = try await h.browse(.get, "/console/merchants/\(id)", jar: &owner)
            #expect(page.status == .ok && page.text.contains("id=\"upload-form\"") && page.text.contains("id=\"merchant-missing\""))

            // The owner uploads the documents through the browser form (multipart, CSRF in the action URL).
            func multipart(_ kind: String, _ filename: String, _ bytes: [UInt8]) -> ByteBuffer {
                var body = ByteBuffer()
                body.writeString("--XyZ\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n\(kind)\r\n")
                body.writeString("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\nContent-Type: image/png\r\n\r\n")
                body.writeBytes(bytes)
                body.writeString("\r\n--XyZ--\r\n")
                return body
            }
            let type: HTTPFields = [.contentType: "multipart/form-data; boundary=XyZ"]
            let noToken = try await h.client.execute(uri: "/console/merchants/\(id)/documents", method: .post,
                                                     headers: owner.headers(type), body: multipart("storefront", "a.png", DemoData.samplePNG))
            #expect(noToken.status == .forbidden, "a multipart post without the CSRF token is refused")
            for kind in DocumentKind.required {
                let response = try await h.client.execute(uri: "/console/merchants/\(id)/documents?_csrf=\(csrf)", method: .post,
                                                          headers: owner.headers(type),
                                                          body: multipart(kind.rawValue, "门头 \(kind.rawValue).png", DemoData.samplePNG))
                #expect(response.status == .found, "\(kind): \(response.status.code) \(response.text.prefix(300))")
            }
            let wrong = try await h.client.execute(uri: "/console/merchants/\(id)/documents?_csrf=\(csrf)", method: .post,
                                                   headers: owner.headers(type), body: multipart("other", "x.png", Array("not an image".utf8)))
            #expect(wrong.status == .unprocessableContent && wrong.text.contains("id=\"merchant-error\""))
            let file = try await h.env.services.merchants.file(h.fixtures.merchantA, by: try await h.principal("admin"))
            #expect(file.documents.count == 3 && file.missingDocuments.isEmpty)
            #expect(file.documents.contains { $0.filename == "门头 storefront.png" })

            // The owner submits; security approves in the console.
            let submitted = try await h.browse(.post, "/console/merchants/\(id)/review", jar: &owner,
                                               form: [("_csrf", csrf), ("action", "submit")])
            #expect(submitted.status == .found)
            var security: CookieJar
            (security, csrf) = try await h.consoleSession("security")
            let queue = try await h.browse(.get, "/console/merchants?status=submitted", jar: &security)
            #expect(queue.text.contains("merchant-a"))
            let noReason = try await h.browse(.post, "/console/merchants/\(id)/review", jar: &security,
                                              form: [("_csrf", csrf), ("action", "reject"), ("note", " ")])
            #expect(noReason.status == .unprocessableContent && noReason.text.contains("id=\"merchant-error\""))
            let approved = try await h.browse(.post, "/console/merchants/\(id)/review", jar: &security,
                                              form: [("_csrf", csrf), ("action", "approve"), ("riskLevel", "low"), ("mid", "")])
            #expect(approved.status == .found)
            let shown = try await h.browse(.get, "/console/merchants/\(id)", jar: &security)
            #expect(shown.text.contains("898290054110001") && shown.text.contains("6222 **** **** 0123"))
            #expect(!shown.text.contains("id=\"upload-form\""), "an approved file takes no uploads")
        }
    }
}
