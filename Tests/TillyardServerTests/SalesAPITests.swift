import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TillyardKit
import TillyardServer
import TillyardTestSupport

/// The register over HTTP: exactly-once upload (same answer twice), card data refused, refunds,
/// register gaps, shift close, and a cashier selling from a console session.
@Suite struct SalesAPITests {
    @Test(arguments: TestBackend.allCases)
    func registerOverTheAPI(backend: TestBackend) async throws {
        try await Harness.run(backend) { h in
            let store = h.fixtures.storeA.rawValue
            let product = try await h.send(.post, "/api/v1/products", as: "merchantA.owner", json: #"{"sku": "COLA", "nameZh": "可乐", "price": 350}"#)
            let productId = try #require(product.object["id"] as? String)
            let shift = try await h.send(.post, "/api/v1/shifts", as: "merchantA.owner",
                                         json: #"{"storeId": "\#(store)", "registerId": "WEB-1", "openingFloat": 10000}"#)
            #expect(shift.status == .created, "\(shift.text)")
            let shiftId = try #require(shift.object["id"] as? String)

            func sale(_ seq: Int, id: String = UUIDv7.make(), tender: String = #"{"kind": "cash", "tendered": 2000}"#) -> String {
                #"{"id": "\#(id)", "storeId": "\#(store)", "registerId": "WEB-1", "registerSeq": \#(seq), "lines": [{"productId": "\#(productId)", "quantity": 3000}], "tenders": [\#(tender)], "expectedTotal": 1050}"#
            }
            let id = UUIDv7.make()
            let first = try await h.send(.post, "/api/v1/sales", as: "merchantA.owner", json: sale(1, id: id))
            #expect(first.status == .created, "\(first.text)")
            #expect(first.object["receiptNumber"] as? Int == 1 && first.object["change"] as? Int == 950)
            // The same upload again: the same answer, byte for byte, and still one sale.
            let second = try await h.send(.post, "/api/v1/sales", as: "merchantA.owner", json: sale(1, id: id))
            #expect(second.status == first.status && second.text == first.text)

            // Bad input: a full card number never gets in; unknown fields and wrong totals are named.
            let pan = try await h.send(.post, "/api/v1/sales", as: "merchantA.owner",
                                       json: sale(2, tender: #"{"kind": "card", "amount": 1050, "maskedPan": "4111111111111111", "authCode": "1"}"#))
            #expect(pan.status == .unprocessableContent && pan.headers[.contentType] == "application/problem+json")
            let unknown = try await h.send(.post, "/api/v1/sales", as: "merchantA.owner",
                                           json: sale(2).replacingOccurrences(of: #""expectedTotal""#, with: #""expectedTotals""#))
            #expect(unknown.status == .unprocessableContent && unknown.text.contains("expectedTotals"))
            let wrongTotal = try await h.send(.post, "/api/v1/sales", as: "merchantA.owner",
                                              json: sale(2).replacingOccurrences(of: "1050", with: "999"))
            #expect(wrongTotal.status == .unprocessableContent && wrongTotal.text.contains("expectedTotal"))

            // Sequence 2 is skipped; 3 arrives. The register learns what is missing.
            #expect(try await h.send(.post, "/api/v1/sales", as: "merchantA.owner", json: sale(3)).status == .created)
            let sync = try await h.send(.get, "/api/v1/register-sync?registerId=WEB-1", as: "merchantA.owner")
            #expect(sync.text.contains(#""missing":[{"from":2,"to":2}]"#), "\(sync.text)")

            // The owner refunds one piece; more than is left is refused.
            let refund = try await h.send(.post, "/api/v1/sales/\(id)/refunds", as: "merchantA.owner", json: """
                {"id": "\(UUIDv7.make())", "registerId": "WEB-1", "registerSeq": 4, "lines": [{"line": 0, "quantity": 1000}], "reason": "customer_return"}
                """)
            #expect(refund.status == .created && refund.object["total"] as? Int == 350, "\(refund.text)")
            let tooMuch = try await h.send(.post, "/api/v1/sales/\(id)/refunds", as: "merchantA.owner", json: """
                {"id": "\(UUIDv7.make())", "registerId": "WEB-1", "registerSeq": 5, "lines": [{"line": 0, "quantity": 3000}], "reason": "customer_return"}
                """)
            #expect(tooMuch.status == .unprocessableContent && tooMuch.text.contains("lines.0.quantity"))

            // The receipt: text for the screen, ESC/POS for the printer, a copy marked as such, and the
            // customer's link, which opens without a login but only with its token.
            let text = try await h.send(.get, "/api/v1/sales/\(id)/receipt?format=text&paper=58", as: "merchantA.owner")
            #expect(text.status == .ok && text.text.contains("可乐") && text.text.contains("10.50") && !text.text.contains("COPY"), "\(text.text)")
            let copy = try await h.send(.get, "/api/v1/sales/\(id)/receipt?format=text&copy=true", as: "merchantA.owner")
            #expect(copy.text.contains("COPY"))
            let escpos = try await h.send(.get, "/api/v1/sales/\(id)/receipt?format=escpos", as: "merchantA.owner")
            #expect(Array(escpos.body.readableBytesView.prefix(2)) == [0x1B, 0x40])
            let model = try await h.send(.get, "/api/v1/sales/\(id)/receipt?format=json", as: "merchantA.owner")
            let link = try #require(model.object["link"] as? String)
            let customer = try await h.send(.get, link)
            #expect(customer.status == .ok && customer.text.contains("可乐") && customer.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(try await h.send(.get, "/r/\(id)?t=00000000000000000000000000000000").status == .notFound)
            #expect(try await h.send(.get, "/api/v1/sales/\(id)/receipt?format=pdf", as: "merchantA.owner").status == .unprocessableContent)

            // A cashier sells from the console session (the browser register), with the CSRF header.
            var (till, csrf) = try await h.consoleSession("storeA.cashier")
            let cashierSale = try await h.client.execute(uri: "/api/v1/sales", method: .post,
                                                         headers: till.headers([.contentType: "application/json", .init("X-CSRF-Token")!: csrf]),
                                                         body: ByteBuffer(string: sale(5).replacingOccurrences(of: #""storeId": "\#(store)", "#, with: "")))
            #expect(cashierSale.status == .created, "\(String(buffer: cashierSale.body))")
            let receipts = try await h.browse(.get, "/api/v1/sales?storeId=\(store)&kind=sale", jar: &till)
            #expect(receipts.items.count == 3)

            // Closing: the counted cash against what is expected, and the numbered Z report.
            let badClose = try await h.send(.post, "/api/v1/shifts/\(shiftId)/close", as: "merchantA.owner", json: #"{"counted": {"gold": 1}}"#)
            #expect(badClose.status == .unprocessableContent && badClose.text.contains("counted.gold"))
            let gap = try await h.send(.post, "/api/v1/shifts/\(shiftId)/close", as: "merchantA.owner", json: #"{"counted": {"cash": 13000}}"#)
            #expect(gap.status == .conflict && gap.text.contains("sequence 2"))
            let z = try await h.send(.post, "/api/v1/shifts/\(shiftId)/close", as: "merchantA.owner", json: #"{"counted": {"cash": 13000}, "force": true}"#)
            #expect(z.status == .created && z.object["zNumber"] as? Int == 1, "\(z.text)")
            let cash = try #require((z.object["tenders"] as? [[String: Any]])?.first { $0["kind"] as? String == "cash" })
            // Float 100.00 + three sales of 10.50 − a refund of 3.50.
            #expect(cash["expected"] as? Int == 10_000 + 3 * 1050 - 350 && cash["difference"] as? Int == 13_000 - 12_800)
            let zId = try #require(z.object["id"] as? String)
            let printout = try await h.send(.get, "/api/v1/z-reports/\(zId)/printout?format=text&lang=en", as: "merchantA.owner")
            #expect(printout.status == .ok && printout.text.contains("130.00"), "\(printout.text)")
            let verify = try await h.send(.get, "/api/v1/stores/\(store)/journal-verification", as: "merchantA.owner")
            #expect(verify.object["checked"] as? Int == 4 && verify.object["firstBroken"] == nil, "\(verify.text)")
        }
    }
}
