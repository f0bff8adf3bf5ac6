import Foundation
import Testing
import TillyardKit
@testable import TillyardStore

/// The hand-written status document must read back as the status it was made from, exactly as the
/// generic encoder's document does (both are stored in the same column and read by one decoder; dates
/// as epoch milliseconds in a double come back within a microsecond, the same for both).
@Suite struct TerminalStatusColumnTests {
    @Test func theHandWrittenDocumentReadsBackLikeTheGenericOne() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<400 {
            let location = round % 4 == 0 ? nil : LocationReport(
                latitude: Double.random(in: -90...90, using: &generator), longitude: round % 10 == 1 ? 121 : Double.random(in: -180...180, using: &generator),
                source: LocationSource.allCases.randomElement(using: &generator)!, accuracy: round % 3 == 0 ? nil : [0, 1e-5, 25, 1500.5][round % 4],
                reportedAt: Date(timeIntervalSince1970: Double.random(in: 1_700_000_000...1_900_000_000, using: &generator)))
            let heartbeat = Heartbeat(appVersion: round % 7 == 0 ? nil : "3.\(round) \"β\"\\", firmwareVersion: round % 5 == 0 ? nil : "fw\n\(round)",
                                      battery: round % 6 == 0 ? nil : round % 101, paper: round % 9 == 0 ? nil : PaperStatus.allCases[round % 4],
                                      signal: round % 8 == 0 ? nil : -(round % 151), location: location,
                                      secondsSinceTransaction: round % 2 == 0 ? nil : round * 977, parametersVersion: round % 11 == 0 ? nil : "p\(round)")
            let status = TerminalStatus(terminalId: TerminalID(rawValue: "TRM-\(round)"),
                                        lastSeenAt: Date(timeIntervalSince1970: Double.random(in: 1_700_000_000...1_900_000_000, using: &generator)), heartbeat: heartbeat)
            let handWritten = try JSONColumn.encode(status)
            let generic = try JSONColumn.encode(generic: status)
            #expect(try JSONColumn.decode(TerminalStatus.self, from: handWritten).heartbeat.appVersion == status.heartbeat.appVersion)
            #expect(try JSONColumn.decode(TerminalStatus.self, from: handWritten) == JSONColumn.decode(TerminalStatus.self, from: generic))
            #expect((try JSONSerialization.jsonObject(with: Data(handWritten.utf8)) as? NSDictionary) == (try JSONSerialization.jsonObject(with: Data(generic.utf8)) as? NSDictionary),
                    "the same document: \(handWritten) vs \(generic)")
        }
        let empty = TerminalStatus(terminalId: TerminalID(rawValue: "T"), lastSeenAt: Date(timeIntervalSince1970: 0), heartbeat: Heartbeat())
        #expect(try JSONColumn.decode(TerminalStatus.self, from: JSONColumn.encode(empty)) == empty)
    }
}
