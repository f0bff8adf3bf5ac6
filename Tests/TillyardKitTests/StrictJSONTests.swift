import Foundation
import Testing
import TillyardKit

/// The API's one-pass JSON scan: it must accept exactly the well-formed objects without duplicate
/// keys, name the top-level keys, and never let card data through (CardDataGuardTests runs every
/// card-data case through it as well).
@Suite struct StrictJSONTests {
    static func keys(_ json: String, allowing: Set<String> = []) throws -> [String] {
        try StrictJSON.scan(Data(json.utf8), allowing: allowing)
    }

    @Test func returnsTheTopLevelKeysOnly() throws {
        #expect(try Self.keys(#" { "a": 1, "b": {"c": [1, 2.5e-3, -0, true, false, null, "x"]}, "d": "\u00e9\n" } "#) == ["a", "b", "d"])
        #expect(try Self.keys("{}") == [])
        #expect(try Self.keys(#"{"\u0061b": 1}"#) == ["ab"], "escaped keys are read as text")
    }

    @Test(arguments: [
        "", "   ", "[]", #""text""#, "1", "null", "{", "}", #"{"a"}"#, #"{"a":}"#, #"{"a":1,}"#, #"{"a":1 "b":2}"#, #"{a:1}"#,
        #"{"a":01}"#, #"{"a":1.}"#, #"{"a":.5}"#, #"{"a":1e}"#, #"{"a":-}"#, #"{"a":+1}"#, #"{"a":tru}"#, #"{"a":nul}"#,
        #"{"a":"x}"#, #"{"a":"\x"}"#, #"{"a":"\u12"}"#, "{\"a\":\"tab\there\"}", #"{"a":[1,]}"#, #"{"a":[1 2]}"#, #"{"a":1} x"#,
        #"{"a":1}{"b":2}"#, #"{"a":NaN}"#, #"{"a":'x'}"#,
    ])
    func refusesMalformedJSON(json: String) {
        #expect(throws: StrictJSON.Malformed.self, "\(json)") { try Self.keys(json) }
        if json.hasPrefix("{"), !json.contains(",}"), !json.contains(",]") {
            // Foundation's own parser agrees that these are not JSON (it lets trailing commas pass; RFC 8259 does not).
            #expect((try? JSONSerialization.jsonObject(with: Data(json.utf8))) == nil, "\(json)")
        }
    }

    @Test(arguments: [
        #"{"a": 1, "a": 2}"#,
        #"{"note": "ok", "note": "4111111111111111"}"#,
        #"{"outer": {"x": 1, "x": 1}}"#,
        #"{"a": 1, "\u0061": 2}"#,
    ])
    func refusesDuplicateKeys(json: String) throws {
        let error = try #require(throws: StrictJSON.Malformed.self) { try Self.keys(json) }
        #expect(error.reason.contains("appears twice"))
    }

    @Test func findsDuplicatesInLargeObjects() throws {
        let fields = (0..<40).map { "\"k\($0)\": \($0)" }
        #expect(try Self.keys("{" + fields.joined(separator: ",") + "}").count == 40)
        #expect(throws: StrictJSON.Malformed.self) { try Self.keys("{" + (fields + [#""k3": 0"#]).joined(separator: ",") + "}") }
        #expect(throws: StrictJSON.Malformed.self) { try Self.keys("{" + (fields + [#""k39": 0"#]).joined(separator: ",") + "}") }
    }

    @Test func cardDataHiddenInEscapesIsStillFound() {
        let escaped = #"{"note": "\u0034\u0031\u0031\u0031111111111111"}"#
        #expect(throws: DomainError.self) { try Self.keys(escaped) }
        #expect(throws: DomainError.self) { try Self.keys(#"{"n\u006fte": {"\u0063vv": "1"}}"#) }
    }

    @Test func allowedFieldsMayCarryDigitsOnlyAsText() throws {
        let allowing: Set<String> = ["settlementAccount"]
        #expect(try Self.keys(#"{"settlementAccount": "4111111111111111"}"#, allowing: allowing) == ["settlementAccount"])
        #expect(throws: DomainError.self) { try Self.keys(#"{"other": "4111111111111111"}"#, allowing: allowing) }
    }

    @Test func refusesDeepNesting() {
        let deep = String(repeating: #"{"a":"#, count: 100) + "1" + String(repeating: "}", count: 100)
        #expect(throws: StrictJSON.Malformed.self) { try Self.keys(deep) }
        let arrays = #"{"a":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}"
        #expect(throws: StrictJSON.Malformed.self) { try Self.keys(arrays) }
    }

    /// Random edits of a valid body: the scan accepts exactly what Foundation's parser accepts
    /// (these bodies have no duplicate keys to tell them apart).
    @Test func agreesWithFoundationOnMutatedBodies() {
        let seed = #"{"appVersion":"2.3.1","battery":76,"paper":"ok","signal":-71.5e1,"ok":true,"no":null,"list":[1,"two",{"x":[]}],"location":{"latitude":31.2,"source":"gps"}}"#
        let alphabet = Array(#"{}[]:,"\ -+.eE0123456789abcdefnrtu"#.utf8)
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<3_000 {
            var bytes = Array(seed.utf8)
            for _ in 0..<(1 + Int(generator.next() % 3)) {
                let position = Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 3 {
                case 0: bytes[position] = alphabet[Int(generator.next() % UInt64(alphabet.count))]
                case 1: bytes.remove(at: position)
                default: bytes.insert(alphabet[Int(generator.next() % UInt64(alphabet.count))], at: position)
                }
            }
            let data = Data(bytes)
            let foundation = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            let scanned = try? StrictJSON.scan(data)
            let text = String(decoding: bytes, as: UTF8.self)
            if let scanned, let foundation {
                #expect(Set(scanned) == Set(foundation.keys), "\(text)")
            } else if (scanned == nil) != (foundation == nil) {
                // Foundation keeps one copy of a duplicated key and lets trailing commas pass; the scan refuses both.
                let lenient = scanned == nil && (Self.hasDuplicate(text) || text.range(of: #",\s*[}\]]"#, options: .regularExpression) != nil)
                #expect(lenient, "scan \(scanned == nil ? "refused" : "accepted") what Foundation \(foundation == nil ? "refused" : "accepted"): \(text)")
            }
        }
    }

    static func hasDuplicate(_ text: String) -> Bool {
        do {
            _ = try StrictJSON.scan(Data(text.utf8))
            return false
        } catch let error as StrictJSON.Malformed {
            return error.reason.contains("appears twice")
        } catch {
            return false
        }
    }

    @Test func datesWrittenByHandMatchTheFormatterAndReadBack() {
        var generator = SeededGenerator(seed: 11)
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        for _ in 0..<2_000 {
            // 1900–2200, any millisecond.
            let millis = Int64(generator.next() % 9_467_280_000_000) - 2_208_988_800_000
            let date = EpochMillis.date(millis)
            let text = date.iso8601
            #expect(text == Date(timeIntervalSince1970: (Double(millis) + 0.25) / 1000).formatted(style), "\(millis)")
            #expect(Date(utcISO8601: text).map(EpochMillis.from) == millis, "\(text)")
        }
        #expect(Date(utcISO8601: "2024-02-29T23:59:59Z").map(EpochMillis.from) == 1_709_251_199_000)
        for bad in ["2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T00:00:00+08:00",
                    "2024-01-01", "2024-01-01T00:00:00.5Z", "2024-01-01 00:00:00Z"] {
            #expect(Date(utcISO8601: bad) == nil, "\(bad)")
        }
    }
}

/// The heartbeat's hand-written idle reply says exactly what the encoder would.
@Suite struct IdleReplyTests {
    @Test func idleReplyDecodesToTheSameReplyAsTheEncodersOutput() throws {
        var generator = SeededGenerator(seed: 3)
        for round in 0..<500 {
            let version = round % 50 == 0 ? "v\"1\\\n\u{1}/é" : Hex.string((0..<8).map { _ in UInt8.random(in: 0...255, using: &generator) })
            let reply = HeartbeatReply(serverTime: EpochMillis.date(1_700_000_000_000 + Int64(generator.next() % 100_000_000_000)),
                                       nextHeartbeatSeconds: Int(generator.next() % 1000), parametersVersion: version, locked: round % 2 == 0)
            let idle = try #require(reply.idleJSON)
            let decoded = try WireJSON.decoder().decode(HeartbeatReply.self, from: Data(idle.utf8))
            #expect(decoded == reply, "\(idle)")
            #expect(idle == String(decoding: try WireJSON.encoder().encode(reply), as: UTF8.self) || version.contains("\u{1}"),
                    "same bytes as the encoder for ordinary versions: \(idle)")
            #expect((try? StrictJSON.scan(Data(idle.utf8))) != nil)
        }
        let busy = HeartbeatReply(serverTime: Date(), nextHeartbeatSeconds: 300, parametersVersion: "v",
                                  commands: [PendingCommand(id: "c1", kind: .reboot, reason: nil)])
        #expect(busy.idleJSON == nil, "commands go through the encoder")
    }

    @Test func forbiddenKeysAreFoundInAnySpelling() {
        for key in ["pan", "PAN", "card_number", "Card-Number", "TRACK_2", "pinBlock", "PIN-BLOCK", "primary_account_number", "TRAC\u{212A}2"] {
            #expect(CardDataGuard.isForbiddenKey(key), "\(key)")
        }
        for key in ["panel", "pinboard", "maskedPan", "tracking", "cv", "", "spin", "p-a-n-x"] {
            #expect(!CardDataGuard.isForbiddenKey(key), "\(key)")
        }
    }
}
