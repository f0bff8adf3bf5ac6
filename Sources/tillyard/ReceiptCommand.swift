import ArgumentParser
import Foundation
import TillyardKit

/// `tillyard receipt`: render a receipt, or send it to a network receipt printer.
struct ReceiptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receipt",
        abstract: "Render receipts, or print them on a network receipt printer (raw ESC/POS).",
        subcommands: [Print.self, Render.self])

    struct Print: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a receipt to a network receipt printer as raw ESC/POS (GB18030 text, cut, drawer kick for cash).")

        @OptionGroup var source: ReceiptSource
        @Option(help: "The printer: tcp://HOST:PORT (port 9100 when left out).") var printer: String
        @OptionGroup var paper: PaperOption
        @Option(help: "Seconds to wait for the printer to answer.") var timeout = 5

        func run() async throws {
            guard (1...120).contains(timeout) else { throw ValidationError("--timeout must be from 1 to 120 seconds") }
            guard let url = URL(string: printer) else { throw ValidationError("--printer must be tcp://HOST:PORT, not '\(printer)'") }
            let receipt = try await source.load()
            let bytes = ReceiptRenderer.escPos(receipt, paper: try paper.width())
            let rawPrinter = RawPrinter(connectTimeout: .seconds(timeout))
            do {
                try await rawPrinter.send(bytes, to: url)
            } catch let failure as RawPrinter.Failure {
                throw CLIError(message: failure.description)
            }
            print("Sent receipt \(receipt.receiptNumber)\(receipt.copy ? " (copy)" : "") to \(printer): \(bytes.count) bytes.")
        }
    }

    struct Render: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a receipt to standard output as ESC/POS bytes, text or an HTML page.")

        /// The outputs of `ReceiptRenderer`.
        enum Format: String, ExpressibleByArgument, CaseIterable {
            case escpos, text, html
        }

        @OptionGroup var source: ReceiptSource
        @Option(help: "escpos, text or html.") var format: Format
        @OptionGroup var paper: PaperOption

        func run() async throws {
            let receipt = try await source.load()
            let output: Data
            switch format {
            case .escpos: output = Data(ReceiptRenderer.escPos(receipt, paper: try paper.width()))
            case .text: output = Data(ReceiptRenderer.text(receipt, paper: try paper.width()).utf8)
            case .html: output = Data(ReceiptRenderer.html(receipt).utf8)
            }
            FileHandle.standardOutput.write(output)
        }
    }
}

/// `--paper 58|80`.
struct PaperOption: ParsableArguments {
    @Option(help: "Paper width in mm: 58 (32 columns) or 80 (48 columns).") var paper = 80

    /// The paper, or a usage error naming the accepted widths.
    func width() throws -> PaperWidth {
        guard let width = PaperWidth(rawValue: paper) else { throw ValidationError("--paper must be 58 or 80") }
        return width
    }
}

/// Where the receipt comes from. Today a JSON file; another source (a stored sale, `--sale <id>`) is one
/// more optional option here and one more branch in `load()`, and both commands take it at once.
struct ReceiptSource: ParsableArguments {
    @Option(help: ArgumentHelp(
        "A receipt as JSON: the Receipt model of TillyardKit, dates as ISO-8601 text.",
        discussion: "Dates are ISO-8601 strings such as \"2025-03-01T14:05:09+08:00\" (JSONEncoder with "
            + ".iso8601, not its default seconds-since-2001); money in fen, quantities in thousandths.",
        valueName: "path"))
    var file: String?

    @Option(help: "A stored sale or refund by id: its receipt, read from the database.") var sale: String?
    @Option(name: .customLong("as"), help: "With --sale: the user reading it (default admin).") var actor = "admin"
    @OptionGroup var storage: StorageOptions

    @Flag(help: "Mark the receipt as a reprint (COPY 重印; the cash drawer stays shut).") var copy = false

    /// The receipt the options name, marked as a copy when asked.
    func load() async throws -> Receipt {
        switch (file, sale) {
        case (let file?, nil):
            var receipt = try Self.decode(file: file)
            if copy { receipt.copy = true }
            return receipt
        case (nil, let sale?):
            guard let id = SaleID(validating: sale) else { throw ValidationError("--sale must be a sale id, not '\(sale)'") }
            return try await withServices(try storage.configuration(), migrate: false) { services in
                let principal = try await services.access.principal(commandLineUser: actor)
                return try await services.sales.receipt(id, copy: copy, by: principal)
            }
        default:
            throw ValidationError("give the receipt with --file <path> or --sale <id>")
        }
    }

    /// Reads a receipt file, with one readable line for a file that is missing or not a receipt.
    static func decode(file: String) throws -> Receipt {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw CLIError(message: "cannot read \(file): \((error as NSError).localizedDescription)")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(Receipt.self, from: data)
        } catch let error as DecodingError {
            throw CLIError(message: "\(file) is not a receipt: \(explain(error))")
        }
    }

    /// "missing field lines[0].sku" rather than the decoder's dump of coding paths.
    static func explain(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context, _ last: (any CodingKey)? = nil) -> String {
            let keys = context.codingPath + (last.map { [$0] } ?? [])
            let text = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.hasPrefix(".") ? String(text.dropFirst()) : text
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing field \(path(context, key))"
        case .valueNotFound(_, let context): return "no value for \(path(context))"
        case .typeMismatch(let type, let context): return "\(path(context)) should be \(type)"
        case .dataCorrupted(let context):
            let place = path(context)
            return place.isEmpty ? "not valid JSON" : "\(place): \(context.debugDescription)"
        @unknown default: return String(describing: error)
        }
    }
}
