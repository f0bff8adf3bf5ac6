import ArgumentParser
import Foundation
import TillyardKit
import TillyardServer
import TillyardStore

/// `tillyard reports rebuild`: refills the report rollups from the stored sales, refunds and terminal
/// transactions in one transaction (an install upgraded with data gets them at migration 17 already;
/// this is the tool for after a restore or a repair, and the reference the tests compare with).
struct ReportsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reports", abstract: "Report tools.", subcommands: [Rebuild.self])

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rebuild the daily report rollups from stored history.")

        @OptionGroup var storage: StorageOptions
        @Option(name: .customLong("as"), help: "Administrator to act as (recorded in the audit trail).") var actor = "admin"

        func run() async throws {
            try await withServices(try storage.configuration()) { services in
                let started = Date()
                let replayed = try await services.reports.rebuild(by: try await services.access.principal(commandLineUser: actor))
                print("Report rollups rebuilt: \(replayed) sales and refunds replayed, terminal transactions regrouped in "
                      + String(format: "%.1f s.", Date().timeIntervalSince(started)))
            }
        }
    }
}
