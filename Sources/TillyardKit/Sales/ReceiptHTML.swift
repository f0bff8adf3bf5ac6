/// Receipt blocks as a standalone, printable HTML page.
///
/// The page must pass the console's Content-Security-Policy (`default-src 'self'; style-src 'self'`):
/// no scripts, no inline styles or `style` attributes, no foreign assets. Its look comes from one
/// same-origin stylesheet; without it (a file saved from `tillyard receipt render`) the page still
/// reads in order, since rows are tables.
enum ReceiptHTML {
    static func page(_ document: ReceiptDocument, stylesheet: String?) -> String {
        var body = ""
        var rows: [String] = []
        func flushRows() {
            guard !rows.isEmpty else { return }
            body += "<table>\n" + rows.joined() + "</table>\n"
            rows = []
        }
        for block in document.blocks {
            if case .row(let left, let right, let indent, let strong) = block {
                let classes = [indent > 0 ? "indent" : nil, strong ? "strong" : nil].compactMap { $0 }
                let rowClass = classes.isEmpty ? "" : " class=\"\(classes.joined(separator: " "))\""
                rows.append("<tr\(rowClass)><td>\(escape(left))</td><td class=\"value\">\(escape(right))</td></tr>\n")
                continue
            }
            flushRows()
            switch block {
            case .title(let text): body += "<h1>\(escape(text))</h1>\n"
            case .banner(let text): body += "<p class=\"banner\">\(escape(text))</p>\n"
            case .centered(let text): body += "<p class=\"center\">\(escape(text))</p>\n"
            case .text(let text, let indent): body += "<p\(indent > 0 ? " class=\"indent\"" : "")>\(escape(text))</p>\n"
            case .rule: body += "<hr>\n"
            case .qr(let data, _):
                // The page is where the code leads: show the address itself, a link only when it is a web address.
                let lower = data.lowercased()
                let shown = lower.hasPrefix("https://") || lower.hasPrefix("http://")
                    ? "<a href=\"\(escape(data))\">\(escape(data))</a>" : escape(data)
                body += "<p class=\"center link\">\(shown)</p>\n"
            case .row: break
            }
        }
        flushRows()
        let style = stylesheet.map { "<link rel=\"stylesheet\" href=\"\(escape($0))\">\n" } ?? ""
        return """
            <!DOCTYPE html>
            <html lang="\(document.language == .zh ? "zh-CN" : "en")">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="robots" content="noindex">
            <title>\(escape(document.title))</title>
            \(style)</head>
            <body>
            <main class="receipt">
            \(body)</main>
            </body>
            </html>

            """
    }

    /// Text safe in element content and in quoted attribute values.
    static func escape(_ text: String) -> String { Markup.escape(text) }
}
