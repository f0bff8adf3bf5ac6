import Foundation
import Hummingbird
import TillyardKit

/// What every CSV import and export of the API and console shares: the size limit of an upload,
/// reading it as UTF-8, and the download response.
enum CSVTransfer {
    /// Largest CSV import (100,000 rows fit comfortably); beyond it the answer is 413.
    static let importLimit = 16 << 20

    /// The raw body of an import, read up to the limit (413 beyond), and its text.
    static func upload(_ request: Request) async throws -> (data: Data, text: String) {
        let data = Data(buffer: try await request.body.collect(upTo: importLimit))
        guard let text = String(data: data, encoding: .utf8) else { throw DomainError.invalid("file", "must be UTF-8 text") }
        return (data, text)
    }

    /// A CSV file as a download, whole.
    static func attachment(_ csv: String, filename: String) -> Response {
        Response(status: .ok, headers: headers(filename), body: .init(byteBuffer: ByteBuffer(string: csv)))
    }

    /// A CSV file as a download written chunk by chunk while it is sent (large catalogs never sit
    /// in memory whole). Errors must be found before: once streaming, the status is already sent.
    static func streamed(filename: String, _ write: @escaping @Sendable ((String) async throws -> Void) async throws -> Void) -> Response {
        Response(status: .ok, headers: headers(filename), body: ResponseBody { writer in
            try await write { chunk in try await writer.write(ByteBuffer(string: chunk)) }
            try await writer.finish(nil)
        })
    }

    private static func headers(_ filename: String) -> HTTPFields {
        [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"\(filename)\""]
    }
}
