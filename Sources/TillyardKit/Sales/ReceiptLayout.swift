import Foundation

/// The paper a receipt printer takes. Columns count font A characters (12 dots wide; a Chinese
/// character takes two): 384 dots on 58 mm paper, 576 dots on 80 mm paper.
public enum PaperWidth: Int, Codable, Sendable, CaseIterable {
    case mm58 = 58
    case mm80 = 80

    /// Font A columns across the printable width.
    public var columns: Int {
        switch self {
        case .mm58: 32
        case .mm80: 48
        }
    }
}

/// One piece of a receipt or report, before it meets a paper width or an output format.
///
/// Every output is rendered from the same blocks, so paper, text and HTML can never disagree on
/// what a receipt says; only how it is laid out differs.
enum ReceiptBlock: Equatable {
    /// The store's name: centred, bold, double size.
    case title(String)
    /// A mark that must not be missed (COPY 重印, 退货 REFUND): centred, bold, double size.
    case banner(String)
    case centered(String)
    /// Left-aligned text, wrapped; continuation lines keep the indent.
    case text(String, indent: Int = 0)
    /// A label on the left and a value (usually an amount) on the right.
    case row(String, String, indent: Int = 0, strong: Bool = false)
    /// A dashed line across the paper.
    case rule
    /// A QR code of the data (a link), with a caption under it.
    case qr(String, caption: String)

    /// The block with control, line-separator and format characters taken out of its text.
    ///
    /// Receipt text comes from product names and settings typed by people: an ESC or GS byte inside a
    /// name would otherwise reach the printer as a command (open the drawer, cut), and a bidi override
    /// could make an amount read differently on screen.
    var cleaned: ReceiptBlock {
        switch self {
        case .title(let text): .title(Self.clean(text))
        case .banner(let text): .banner(Self.clean(text))
        case .centered(let text): .centered(Self.clean(text))
        case .text(let text, let indent): .text(Self.clean(text), indent: indent)
        case .row(let left, let right, let indent, let strong): .row(Self.clean(left), Self.clean(right), indent: indent, strong: strong)
        case .rule: .rule
        case .qr(let data, let caption): .qr(Self.clean(data), caption: Self.clean(caption))
        }
    }

    static func clean(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control, .lineSeparator, .paragraphSeparator: scalars.append(" ")
            case .format: continue
            default: scalars.append(scalar)
            }
        }
        return String(scalars)
    }
}

/// A receipt or report as blocks, with what its outputs need beyond them.
struct ReceiptDocument: Equatable {
    /// The HTML page's title.
    var title: String
    var language: ReceiptLanguage
    /// Whether printing opens the cash drawer (cash moved and this is not a copy).
    var opensDrawer: Bool
    var blocks: [ReceiptBlock]

    init(title: String, language: ReceiptLanguage, opensDrawer: Bool, blocks: [ReceiptBlock]) {
        self.title = ReceiptBlock.clean(title)
        self.language = language
        self.opensDrawer = opensDrawer
        self.blocks = blocks.map(\.cleaned)
    }
}

/// A laid-out line of paper: text that fits the width, and how the printer should emphasise it.
enum PrintedLine: Equatable {
    /// Plain text, already padded and aligned by display width.
    case plain(String)
    /// Bold, double height (the total): same width as plain text.
    case strong(String)
    /// Centred by the printer, bold, double width and height: holds half the columns.
    case large(String)
    /// A QR code of the data; `fallback` is the data wrapped to the width, for outputs without QR codes.
    case qr(String, fallback: [String])
}

/// Column arithmetic of receipt printers in Chinese mode.
///
/// A printer in Chinese mode prints a byte below 0x80 as a half-width (font A) character and every
/// multi-byte GB18030 character as a full-width glyph. So the width of a text is counted per Unicode
/// scalar: printable ASCII is one column, everything else two. That is exact for the printer and never
/// too narrow for a terminal, so no line laid out here can run past the paper.
enum ReceiptLayout {
    /// Display columns of a text.
    static func columns(_ text: some StringProtocol) -> Int {
        text.unicodeScalars.reduce(0) { $0 + (($1.value >= 0x20 && $1.value < 0x7F) ? 1 : 2) }
    }

    static func spaces(_ count: Int) -> String { String(repeating: " ", count: max(0, count)) }

    /// Lines of at most `width` columns. Breaks after the last space when that leaves the line at least
    /// half full (English words stay whole), anywhere otherwise (Chinese has no spaces to break at).
    static func wrap(_ text: String, width: Int) -> [String] {
        let width = max(2, width)
        // Break between characters; a character wider than a line (a long combining sequence)
        // is broken into its scalars so the width still holds.
        let units: [String] = text.flatMap { character -> [String] in
            columns(String(character)) <= width ? [String(character)] : character.unicodeScalars.map { String($0) }
        }
        var lines: [String] = []
        var current: [String] = []
        var used = 0
        for unit in units {
            let unitWidth = columns(unit)
            if used + unitWidth > width, !current.isEmpty {
                if unit != " ", let space = current.lastIndex(of: " "), columns(current[..<space].joined()) >= width / 2 {
                    lines.append(current[..<space].joined())
                    current = Array(current[(space + 1)...])
                } else {
                    lines.append(current.joined())
                    current = []
                }
                used = columns(current.joined())
                if unit == " " && current.isEmpty { continue }
            }
            current.append(unit)
            used += unitWidth
        }
        if !current.isEmpty || lines.isEmpty { lines.append(current.joined()) }
        return lines.map { String($0.reversed().drop(while: { $0 == " " }).reversed()) }
    }

    /// A label and a value on one line when they fit; otherwise the label wraps beside the value, or,
    /// when the value itself is long (a transaction id), the value goes under the label: right-aligned
    /// when it fits a line, else wrapped from the left, where a split reference still reads in order.
    static func row(_ left: String, _ right: String, width: Int, indent: Int) -> [String] {
        let pad = spaces(indent)
        let room = width - indent
        let leftWidth = columns(left), rightWidth = columns(right)
        if right.isEmpty { return wrap(left, width: room).map { pad + $0 } }
        if leftWidth + 1 + rightWidth <= room {
            return [pad + left + spaces(room - leftWidth - rightWidth) + right]
        }
        if rightWidth <= room / 2 {
            var lines = left.isEmpty ? [""] : wrap(left, width: room - rightWidth - 1)
            let last = lines.removeLast()
            return lines.map { pad + $0 } + [pad + last + spaces(room - columns(last) - rightWidth) + right]
        }
        let labels = left.isEmpty ? [] : wrap(left, width: room).map { pad + $0 }
        if rightWidth <= room { return labels + [pad + spaces(room - rightWidth) + right] }
        return labels + wrap(right, width: room).map { pad + $0 }
    }

    /// Text wrapped and centred with spaces (the same on paper and in text output).
    static func centered(_ text: String, width: Int) -> [PrintedLine] {
        wrap(text, width: width).map { .plain(spaces((width - columns($0)) / 2) + $0) }
    }

    /// The document laid out for paper of `columns` columns.
    static func lines(_ document: ReceiptDocument, columns width: Int) -> [PrintedLine] {
        var lines: [PrintedLine] = []
        for block in document.blocks {
            switch block {
            case .title(let text), .banner(let text):
                // Double width: every character takes twice its columns.
                lines += wrap(text, width: width / 2).map(PrintedLine.large)
            case .centered(let text):
                lines += centered(text, width: width)
            case .text(let text, let indent):
                lines += wrap(text, width: width - indent).map { .plain(spaces(indent) + $0) }
            case .row(let left, let right, let indent, let strong):
                lines += row(left, right, width: width, indent: indent).map { strong ? .strong($0) : .plain($0) }
            case .rule:
                lines.append(.plain(String(repeating: "-", count: width)))
            case .qr(let data, let caption):
                lines.append(.qr(data, fallback: wrap(data, width: width)))
                lines += centered(caption, width: width)
            }
        }
        return lines
    }

    /// Plain UTF-8 text with the paper's line breaks; large lines are centred at normal width.
    static func text(_ document: ReceiptDocument, columns width: Int) -> String {
        var text = ""
        for line in lines(document, columns: width) {
            switch line {
            case .plain(let content), .strong(let content): text += content + "\n"
            case .large(let content): text += spaces((width - columns(content)) / 2) + content + "\n"
            case .qr(_, let fallback): text += fallback.map { $0 + "\n" }.joined()
            }
        }
        return text
    }
}
