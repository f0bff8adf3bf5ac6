import Foundation
import Testing
import TillyardKit
@testable import TillyardServer

/// The sale upload's one-pass reader (`SaleUploadInput.readPlain`): for every body it accepts it must
/// give exactly what the strict path (StrictJSON, the card-data guard, `JSONDecoder`) gives, and it
/// must hand everything unusual — above all anything that could carry card data — to the strict
/// path by returning nil.
@Suite struct SaleUploadWireTests {
    static func strict(_ json: String) throws -> SaleUploadInput { try strict(Data(json.utf8)) }
    static func strict(_ data: Data) throws -> SaleUploadInput { try JSONIO.decodeStrictly(SaleUploadInput.self, from: data) }
    static func fast(_ json: String) -> SaleUploadInput? { SaleUploadInput.readPlain(Data(json.utf8)) }

    static let id = "019af8a2-7c4d-7e5f-8a9b-0c1d2e3f4a5b"
    static let product = "019af8a2-0000-7000-8000-000000000001"
    /// A body as `BenchShop.body` writes it.
    static let typical = #"{"id":"019af8a2-7c4d-7e5f-8a9b-0c1d2e3f4a5b","storeId":"019af8a1-1111-7222-8333-444455556666","registerId":"BENCH-001","registerSeq":17,"shiftId":"019af8a1-9999-7888-8777-666655554444","lines":[{"productId":"019af8a2-0000-7000-8000-000000000001","quantity":2000,"unitPrice":1850},{"productId":"019af8a2-0000-7000-8000-000000000002","quantity":1000,"unitPrice":999}],"tenders":[{"kind":"cash","tendered":5000}],"expectedTotal":4699}"#

    /// Responses: a value that writes its own JSON (`WireWritable`, as a sale does with `SaleJSON`, whose
    /// bytes `SaleJSONTests` compares with the encoder's) is answered with it; anything else by the encoder.
    @Test func responsesAreWrittenByTheValuesOwnWriterWhenItHasOne() throws {
        struct Written: WireWritable {
            let ignored = 1
            var wireJSON: String { #"{"written":"by hand"}"# }
        }
        #expect(String(buffer: try JSONIO.encode(Written())) == #"{"written":"by hand"}"#)
        #expect(String(buffer: try JSONIO.encode(["b": 1, "a": 2])) == #"{"a":2,"b":1}"#)
    }

    /// Builds a body from its members, in the given order, with the given white space.
    func object(_ members: [(String, String)], space: String = "") -> String {
        "{" + space + members.map { "\"\($0.0)\"\(space):\(space)\($0.1)" }.joined(separator: "," + space) + space + "}"
    }

    func quoted(_ text: String) -> String { "\"\(text)\"" }

    @Test func readsTheBodiesRegistersSendExactlyAsTheStrictDecoderDoes() throws {
        var random = SeededGenerator(seed: 20_261_207)
        let texts = ["", "a", "BENCH-001", "Register 7", "VIP-0042", "note: paid/ok!", "A-B_c.d~e", "13800138000", "622202******1234"]
        let kinds = TenderKind.allCases.map(\.rawValue)
        func maybe(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &random) < percent }
        func number(_ range: ClosedRange<Int64>) -> String { String(Int64.random(in: range, using: &random)) }
        func uuid() -> String {
            let made = UUIDv7.make()
            return quoted(maybe(10) ? made.uppercased() : made)
        }
        func text() -> String { maybe(10) ? uuid() : quoted(texts.randomElement(using: &random)!) }
        func optional(_ key: String, _ value: () -> String, into members: inout [(String, String)]) {
            if maybe(50) { members.append((key, maybe(15) ? "null" : value())) }
        }
        var accepted = 0
        for round in 0..<600 {
            var members: [(String, String)] = [("id", uuid()), ("registerId", text()), ("registerSeq", number(-5...9_000_000_000))]
            optional("storeId", uuid, into: &members)
            optional("shiftId", uuid, into: &members)
            optional("soldAt", {
                // With milliseconds, or whole seconds written without them: both forms `Date.iso8601` reads back.
                let millis = Int64.random(in: 1_600_000_000_000...1_900_000_000_000, using: &random)
                let whole = maybe(30)
                let text = Date(timeIntervalSince1970: Double(whole ? millis / 1000 * 1000 : millis) / 1000).iso8601
                return quoted(whole ? text.replacingOccurrences(of: ".000Z", with: "Z") : text)
            }, into: &members)
            optional("orderDiscount", { number(0...5_000) }, into: &members)
            optional("memberId", text, into: &members)
            optional("isMember", { maybe(50) ? "true" : "false" }, into: &members)
            optional("expectedTotal", { number(-100...10_000_000) }, into: &members)
            optional("note", text, into: &members)
            let lines = (0..<Int.random(in: 0...4, using: &random)).map { _ -> String in
                var line: [(String, String)] = [("productId", uuid()), ("quantity", number(-1_000...50_000))]
                optional("unitPrice", { number(0...999_999) }, into: &line)
                optional("discount", { number(0...500) }, into: &line)
                optional("promotionId", uuid, into: &line)
                optional("promotionName", text, into: &line)
                optional("manualDiscount", { number(0...500) }, into: &line)
                return object(line.shuffled(using: &random))
            }
            let tenders = (0..<Int.random(in: 0...3, using: &random)).map { _ -> String in
                var tender: [(String, String)] = [("kind", quoted(kinds.randomElement(using: &random)!))]
                optional("amount", { number(0...1_000_000) }, into: &tender)
                optional("tendered", { number(0...1_000_000) }, into: &tender)
                optional("maskedPan", { quoted("622202******\(Int.random(in: 1_000...9_999, using: &random))") }, into: &tender)
                optional("authCode", { quoted(String(Int.random(in: 100_000...999_999, using: &random))) }, into: &tender)
                optional("rrn", { quoted("R\(Int.random(in: 1_000_000...9_999_999, using: &random))") }, into: &tender)
                optional("providerTransactionId", { quoted("wx-\(round)-ABC") }, into: &tender)
                optional("reference", text, into: &tender)
                return object(tender.shuffled(using: &random))
            }
            members.append(("lines", "[" + lines.joined(separator: ",") + "]"))
            members.append(("tenders", "[" + tenders.joined(separator: ",") + "]"))
            let json = object(members.shuffled(using: &random), space: maybe(20) ? " " : maybe(20) ? "\n\t" : "")
            let fast = try #require(Self.fast(json), "\(json)")
            #expect(fast == (try Self.strict(json)), "\(json)")
            accepted += 1
        }
        #expect(accepted == 600)
        // The typical body, field by field.
        let typical = try #require(Self.fast(Self.typical))
        #expect(typical == (try Self.strict(Self.typical)))
        #expect(typical.id == Self.id && typical.registerSeq == 17 && typical.lines.count == 2 && typical.tenders == [TenderInput(kind: .cash, tendered: 5000)])
        #expect(typical.lines[0] == SaleLineInput(productId: ProductID(rawValue: Self.product), quantity: 2000, unitPrice: 1850))
        // The API's entry point takes the fast lane and gives the same.
        #expect(try JSONIO.decode(SaleUploadInput.self, from: Data(Self.typical.utf8)) == typical)
    }

    /// Unusual bodies the strict path accepts (most of them): the reader may take them only with the same result.
    @Test(arguments: [
        "\n{\r\n\t\"id\" : \"\(id)\" ,\t\"registerId\":\"R1\",\"registerSeq\":1,\"lines\":[ ],\"tenders\":[\n]}\n",
        #"{"id":"\#(id)","registerId":"R1","registerSeq":-0,"lines":[],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"storeId":null,"shiftId":null,"soldAt":null,"orderDiscount":null,"memberId":null,"isMember":null,"expectedTotal":null,"note":null,"approval":null}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[{"productId":"p","quantity":1,"unitPrice":null,"discount":null,"promotionId":null,"promotionName":null,"manualDiscount":null}],"tenders":[{"kind":"card","amount":null,"tendered":null,"maskedPan":null,"authCode":null,"rrn":null,"providerTransactionId":null,"reference":null}]}"#,
        #"{"id":"not an id","registerId":"","registerSeq":0,"lines":[],"tenders":[],"soldAt":"2026-12-07T03:51:03Z"}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"note":"123456789012","memberId":"1234567890123"}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[{"kind":"card","rrn":"123456789012"}]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"soldAt":"2026-12-07T11:51:03+08:00"}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"soldAt":"2026-12-07"}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"note":"caf\u00e9"}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"note":"café"}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"note":"a\/b"}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[{"productId":"p","quantity":1,"extra":1}],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1.0,"lines":[],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1e2,"lines":[],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"approval":{"username":"m","password":"p","reason":"other"}}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"storeId":"\#(id.uppercased())"}"#,
    ])
    func agreesWithTheStrictDecoderOnOtherBodiesItAccepts(json: String) {
        guard let fast = Self.fast(json) else { return }
        #expect(fast == (try? Self.strict(json)), "\(json)")
    }

    /// Bodies the reader must hand to the strict path, which refuses most of them or needs its own reading.
    @Test(arguments: [
        // Card data and long digit runs anywhere, in any field.
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[{"kind":"card","maskedPan":"4111111111111111"}]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"note":"card 4111 1111 1111 1111"}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"note":"%B4111111111111111^X"}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"memberId":";4111111111111111=2512"}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[{"kind":"card","rrn":"123456789012"}]}"#,
        #"{"id":"4111111111111111","registerId":"R1","registerSeq":1,"lines":[],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"411111111111","registerSeq":1,"lines":[],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[{"productId":"41111111111111111","quantity":1}],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"pan":"4111111111111111"}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[{"kind":"card","cvv":"123"}]}"#,
        // Escapes and non-ASCII.
        #"{"id":"\#(id)","registerId":"R\u0031","registerSeq":1,"lines":[],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"note":"caf\u00e9"}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"note":"café"}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"note":"a\/b"}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[{"kind":"c\u0061sh","tendered":1}]}"#,
        #"{"\u0069d":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[]}"#,
        // Unknown or repeated keys at any depth; an approval.
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"extra":1}"#,
        #"{"id":"\#(id)","id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[{"productId":"p","quantity":1,"extra":1}],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[{"productId":"p","quantity":1,"quantity":2}],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[{"kind":"cash","kind":"card"}]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"approval":{"username":"m","password":"p","reason":"other"}}"#,
        // Numbers that are not plain integers; values of the wrong type.
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1.0,"lines":[],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1e2,"lines":[],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1E+2,"lines":[],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":01,"lines":[],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":-,"lines":[],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":+1,"lines":[],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":99999999999999999999,"lines":[],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":"1","lines":[],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[{"productId":"p","quantity":1.5}],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"isMember":1}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"isMember":"true"}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[{"kind":"cheque"}]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":{},"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[[]],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"note":{"a":"b"}}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"note":["x"]}"#,
        // Nulls and absences where a value is required.
        #"{"id":null,"registerId":"R1","registerSeq":1,"lines":[],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":null,"lines":[],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":null,"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[{"quantity":1}],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[{"amount":1}]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[{"kind":null}]}"#,
        // Dates in other forms than `Date.iso8601` writes.
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"soldAt":"2026-12-07T11:51:03+08:00"}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"soldAt":"2026-12-07"}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"soldAt":"2026-02-30T00:00:00Z"}"#,
        // Broken syntax.
        "", " ", "[]", "{", "null", #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[,],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[{"productId":"p","quantity":1},],"tenders":[]}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[]} x"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[]}{}"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[]"#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":["#,
        #"{"id":"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[],"isMember":tru}"#,
        #"{id:"\#(id)","registerId":"R1","registerSeq":1,"lines":[],"tenders":[]}"#,
        "{\"id\":\"\(id)\",\"registerId\":\"R\t1\",\"registerSeq\":1,\"lines\":[],\"tenders\":[]}",
        "\u{FEFF}{\"id\":\"\(id)\",\"registerId\":\"R1\",\"registerSeq\":1,\"lines\":[],\"tenders\":[]}",
        "{\"id\":\"\(id)\",\"registerId\":\"R1\",\"registerSeq\":1,\"lines\":[],\"tenders\":[]}\u{0}",
        "{\"id\":\"\(id)\",\u{0B}\"registerId\":\"R1\",\"registerSeq\":1,\"lines\":[],\"tenders\":[]}",
    ])
    func handsEverythingElseToTheStrictPath(json: String) {
        #expect(Self.fast(json) == nil, "\(json)")
    }

    @Test func neverAcceptsABodyTheStrictPathRefusesOrReadsOtherwise() {
        // Every single-byte change of a typical body (with every optional field): whatever the
        // reader still accepts, the strict path must accept as the same upload.
        let full = #"{"id":"019af8a2-7c4d-7e5f-8a9b-0c1d2e3f4a5b","storeId":"019af8a1-1111-7222-8333-444455556666","registerId":"BENCH-001","registerSeq":17,"shiftId":"019af8a1-9999-7888-8777-666655554444","soldAt":"2026-12-07T03:51:03.852Z","lines":[{"productId":"019af8a2-0000-7000-8000-000000000001","quantity":2000,"unitPrice":1850,"discount":100,"promotionId":"019af8a2-0000-7000-8000-0000000000aa","promotionName":"2 for 1","manualDiscount":0}],"orderDiscount":50,"tenders":[{"kind":"card","amount":3550,"maskedPan":"622202******1234","authCode":"123456","rrn":"R1234567","providerTransactionId":"T-1","reference":"ref"},{"kind":"cash","tendered":5000}],"memberId":"M-77","isMember":true,"expectedTotal":4699,"note":"ok"}"#
        let replacements: [UInt8] = Array(#"{}[]":,.-+eE0159aAfz \"#.utf8) + [0x00, 0x0A, 0xE4, 0x7F]
        for body in [Self.typical, full] {
            let base = Array(body.utf8)
            #expect(SaleUploadInput.readPlain(Data(base)) != nil)
            var accepted = 0
            for index in base.indices {
                var variants: [[UInt8]] = replacements.filter { $0 != base[index] }.map { byte in
                    var mutated = base
                    mutated[index] = byte
                    return mutated
                }
                var removed = base
                removed.remove(at: index)
                variants.append(removed)
                for mutated in variants {
                    guard let fast = SaleUploadInput.readPlain(Data(mutated)) else { continue }
                    accepted += 1
                    #expect(fast == (try? Self.strict(Data(mutated))), "\(String(decoding: mutated, as: UTF8.self))")
                }
            }
            #expect(accepted > 0)
        }
    }
}
