import Foundation
import Hummingbird
import MultipartKit
import TillyardKit

/// A file part of a multipart form, with its headers (for the file name). `FormDataDecoder`
/// builds it from the part directly; it never comes from another format.
struct UploadedFile: Decodable, MultipartPartConvertible {
    var part: MultipartPart
    var multipart: MultipartPart? { part }

    init?(multipart: MultipartPart) { part = multipart }

    init(from decoder: any Decoder) throws {
        throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a file comes from a multipart form only"))
    }

    /// The name the browser gave the file (`Content-Disposition: form-data; filename="…"`).
    var filename: String? { part.headers.first(name: "Content-Disposition").flatMap { ConsoleUpload.parameter("filename", in: $0) } }

    var bytes: [UInt8] { Array(buffer: part.body) }
}

/// A form with one file field named `file` and nothing else (its CSRF token rides in the query string).
struct FileOnlyForm: Decodable { var file: UploadedFile }

/// Console file uploads (`multipart/form-data`, CSRF token in the action URL's query, checked by
/// `AuthMiddleware`): the body is read up to the file limit plus room for the form around it, then
/// decoded. Too large, not multipart or no file are problems on `file`.
enum ConsoleUpload {
    /// The form around the file (boundaries, headers, other fields) adds at most this much.
    static let formOverhead = 64 * 1024

    /// Why an upload was refused before any service saw it.
    enum Refusal: Error { case notMultipart, tooLarge, undecodable }

    /// Reads and decodes a multipart form whose files may hold up to `maxFileBytes`; problems in English.
    static func decode<Form: Decodable>(_ type: Form.Type, _ request: Request, maxFileBytes: Int = MerchantRules.maxDocumentBytes,
                                        missing: String = "choose a file") async throws -> Form {
        do {
            return try await read(type, request, maxFileBytes: maxFileBytes)
        } catch Refusal.notMultipart {
            throw DomainError.invalid("file", "send the form as multipart/form-data")
        } catch Refusal.tooLarge {
            throw DomainError.invalid("file", "is larger than \(maxFileBytes >> 20) MB")
        } catch Refusal.undecodable {
            throw DomainError.invalid("file", missing)
        }
    }

    /// The one file of a `FileOnlyForm` (a photo or document: JPEG, PNG or PDF up to 5 MB), refused
    /// with a message in the reader's language (catalog keys `upload_*`) before the service sees it.
    static func document(_ request: Request, renderer: ConsoleRenderer, locale: String) async throws -> UploadedFile {
        let maxBytes = MerchantRules.maxDocumentBytes
        let tooLarge = DomainError.unprocessable(renderer.text("upload_too_large", locale: locale)
            .replacingOccurrences(of: "{mb}", with: String(maxBytes >> 20)))
        let file: UploadedFile
        do {
            file = try await read(FileOnlyForm.self, request, maxFileBytes: maxBytes).file
        } catch Refusal.tooLarge {
            throw tooLarge
        } catch is Refusal {
            throw DomainError.unprocessable(renderer.text("upload_choose_file", locale: locale))
        }
        let bytes = file.part.body
        guard bytes.readableBytes > 0 else { throw DomainError.unprocessable(renderer.text("upload_choose_file", locale: locale)) }
        guard bytes.readableBytes <= maxBytes else { throw tooLarge }
        guard DocumentFormat.sniff(bytes.readableBytesView) != nil else {
            throw DomainError.unprocessable(renderer.text("upload_wrong_type", locale: locale))
        }
        return file
    }

    private static func read<Form: Decodable>(_ type: Form.Type, _ request: Request, maxFileBytes: Int) async throws -> Form {
        guard let contentType = request.headers[.contentType], contentType.hasPrefix("multipart/form-data"),
              let boundary = parameter("boundary", in: contentType) else { throw Refusal.notMultipart }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxFileBytes + formOverhead)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw Refusal.tooLarge
        }
        do {
            return try FormDataDecoder().decode(Form.self, from: body, boundary: boundary)
        } catch {
            throw Refusal.undecodable
        }
    }

    /// A parameter of a header value (`boundary=…`, `filename="…"`).
    static func parameter(_ name: String, in header: String) -> String? {
        for part in header.split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces)
            guard pair.lowercased().hasPrefix(name + "=") else { continue }
            var value = pair.dropFirst(name.count + 1)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
            return value.isEmpty ? nil : String(value)
        }
        return nil
    }
}
