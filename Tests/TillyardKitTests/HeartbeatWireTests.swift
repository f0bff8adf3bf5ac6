import Foundation
import Testing
import TillyardKit

/// The heartbeat's one-pass reader: for every body it accepts it must give exactly what the strict
/// path (one-pass scan, then `JSONDecoder`) gives, and it must hand everything unusual — above all
/// anything that could carry card data — to the strict path by returning nil.
@Suite struct HeartbeatWireTests {
    /// The strict path as the API runs it, without the server's error wording.
    static func strict(_ json: String) throws -> Heartbeat { try strict(Data(json.utf8)) }

    static func strict(_ data: Data) throws -> Heartbeat {
        let keys = try StrictJSON.scan(data)
        let allowed = Set(Heartbeat.CodingKeys.allCases.map(\.stringValue))
        guard keys.allSatisfy(allowed.contains) else { throw DomainError.invalid("body", "unknown field") }
        return try WireJSON.decoder().decode(Heartbeat.self, from: data)
    }

    static func fast(_ json: String) -> Heartbeat? { HeartbeatWire.parse(Data(json.utf8)) }

    @Test func readsWhatTheAgentSendsExactlyAsTheStrictDecoderDoes() throws {
        var generator = SystemRandomNumberGenerator()
        let encoder = WireJSON.encoder()
        for round in 0..<500 {
            let location = round % 5 == 0 ? nil : LocationReport(
                latitude: Double.random(in: -90...90, using: &generator), longitude: Double.random(in: -180...180, using: &generator),
                source: LocationSource.allCases.randomElement(using: &generator)!,
                accuracy: round % 3 == 0 ? nil : Double.random(in: 0...5_000, using: &generator).rounded(),
                reportedAt: Date(timeIntervalSince1970: Double(Int.random(in: 1_700_000_000_000...1_900_000_000_000, using: &generator)) / 1000))
            let heartbeat = Heartbeat(appVersion: round % 7 == 0 ? nil : "3.\(round % 10).\(round)", firmwareVersion: round % 4 == 0 ? nil : "fw-2026.\(round % 12)",
                                      battery: round % 6 == 0 ? nil : Int.random(in: 0...100, using: &generator),
                                      paper: round % 9 == 0 ? nil : PaperStatus.allCases.randomElement(using: &generator),
                                      signal: round % 8 == 0 ? nil : -Int.random(in: 0...150, using: &generator), location: location,
                                      secondsSinceTransaction: round % 2 == 0 ? nil : Int.random(in: 0...10_000_000, using: &generator),
                                      parametersVersion: round % 5 == 1 ? nil : "p\(round)")
            let json = String(decoding: try encoder.encode(heartbeat), as: UTF8.self)
            let fast = try #require(Self.fast(json), "\(json)")
            #expect(fast == heartbeat, "\(json)")
            #expect(fast == (try Self.strict(json)), "\(json)")
        }
    }

    @Test(arguments: [
        #"{}"#,
        #" { "battery" : 80 , "paper" : "low" , "signal" : -71 } "#,
        "{\n\t\"appVersion\": null,\r\n\"location\": null}",
        #"{"location": {"reportedAt": "2026-12-07T03:51:03Z", "source": "cell", "longitude": 121, "latitude": -31.5e0, "accuracy": null}}"#,
        #"{"location": {"latitude": 0, "longitude": 1.25E+2, "source": "ip", "reportedAt": "2026-12-07T03:51:03.852Z", "accuracy": 1500}}"#,
        #"{"appVersion": "", "secondsSinceTransaction": 0, "battery": -0}"#,
    ])
    func agreesWithTheStrictDecoderOnOtherPlainForms(json: String) throws {
        let fast = try #require(Self.fast(json), "\(json)")
        #expect(fast == (try Self.strict(json)))
    }

    @Test(arguments: [
        // Card data in any string, escapes and non-ASCII: the strict path and its card-data guard decide.
        #"{"appVersion": "4111111111111111"}"#, #"{"appVersion": "%B4111111111111111^X"}"#, #"{"firmwareVersion": "123456789012"}"#,
        #"{"appVersion": "3.1\u0034"}"#, #"{"appVersion": "版本3"}"#, #"{"paper": "o\u006b"}"#,
        // Unknown, repeated or card-data keys.
        #"{"pan": "4111111111111111"}"#, #"{"battery": 1, "battery": 2}"#, #"{"location": null, "location": null}"#,
        #"{"location": {"latitude": 1, "longitude": 2, "source": "gps", "reportedAt": "2026-12-07T03:51:03Z", "cvv": "123"}}"#,
        #"{"location": {"latitude": 1, "latitude": 1, "longitude": 2, "source": "gps", "reportedAt": "2026-12-07T03:51:03Z"}}"#,
        // Not integers where integers belong, odd numbers, wrong types, unknown enum values.
        #"{"battery": 80.0}"#, #"{"battery": 8e1}"#, #"{"battery": 080}"#, #"{"battery": "80"}"#, #"{"battery": 1234567890123456789012}"#,
        #"{"paper": "soggy"}"#, #"{"paper": 1}"#, #"{"signal": true}"#, #"{"location": {"latitude": 01, "longitude": 2, "source": "gps", "reportedAt": "2026-12-07T03:51:03Z"}}"#,
        #"{"location": {"latitude": 1., "longitude": 2, "source": "gps", "reportedAt": "2026-12-07T03:51:03Z"}}"#,
        // A location missing a field, a date in another form, a source unknown.
        #"{"location": {"latitude": 1, "longitude": 2, "source": "gps"}}"#,
        #"{"location": {"latitude": 1, "longitude": 2, "source": "gps", "reportedAt": "2026-12-07T11:51:03+08:00"}}"#,
        #"{"location": {"latitude": 1, "longitude": 2, "source": "radar", "reportedAt": "2026-12-07T03:51:03Z"}}"#,
        #"{"location": []}"#,
        // Broken syntax.
        "", "[]", "{", #"{"battery": 1,}"#, #"{"battery": 1} x"#, #"{"battery" 1}"#, #"{battery: 1}"#, #"{"battery": nul}"#, #"{"appVersion": "x}"#,
    ])
    func handsEverythingElseToTheStrictPath(json: String) {
        #expect(Self.fast(json) == nil, "\(json)")
    }

    @Test func neverAcceptsABodyTheStrictPathRefuses() {
        // Byte-level mutations of a plain body: whatever the reader still accepts, the strict path
        // must accept as the same heartbeat.
        let base = Array(#"{"appVersion":"3.2.1","battery":64,"location":{"accuracy":25,"latitude":31.2304,"longitude":121.4737,"reportedAt":"2026-12-07T03:51:03.852Z","source":"gps"},"paper":"ok","signal":-77}"#.utf8)
        let replacements: [UInt8] = Array(#"{}[]":,.-+eE0159 \"#.utf8) + [0x00, 0xE4, 0x7F]
        var accepted = 0
        for index in base.indices {
            for byte in replacements where byte != base[index] {
                var mutated = base
                mutated[index] = byte
                let json = String(decoding: mutated, as: UTF8.self)
                guard let fast = HeartbeatWire.parse(Data(mutated)) else { continue }
                accepted += 1
                #expect(fast == (try? Self.strict(Data(mutated))), "\(json)")
            }
        }
        #expect(accepted > 0)
    }
}
