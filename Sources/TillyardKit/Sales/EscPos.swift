import Foundation

/// GB18030, the character set Chinese receipt printers read.
///
/// Foundation converts to it on every platform we run on: the encoding has no named `String.Encoding`
/// case, but CoreFoundation's GB 18030 converter (`kCFStringEncodingGB_18030_2000`, 0x0632) is reached
/// through its NSStringEncoding value 0x8000_0632 (what `CFStringConvertEncodingToNSStringEncoding(0x0632)`
/// returns). On Linux swift-corelibs-foundation backs it with ICU's `gb18030` table, which follows
/// GB18030-2005: checked over every BMP code point against Python's `gb18030` codec, the only differences
/// are the 20 code points 2005 remapped (U+1E3F, U+E7C7, U+9FB4–U+9FBB, U+FE10–U+FE19), where Foundation
/// has the 2005 bytes and Python the 2000 ones. So no table of our own is shipped.
public enum GB18030 {
    static let encoding = String.Encoding(rawValue: 0x8000_0632)

    /// The GB18030 bytes of a text: ASCII unchanged, Chinese in two bytes, the rest of Unicode in four.
    ///
    /// Should the platform ever lack the converter, ASCII still goes through and each other character
    /// becomes "?", so a receipt prints with gaps instead of not at all (a test pins the real bytes).
    public static func encode(_ text: String) -> [UInt8] {
        if let data = text.data(using: encoding, allowLossyConversion: false) { return [UInt8](data) }
        return text.unicodeScalars.map { $0.isASCII ? UInt8($0.value) : UInt8(ascii: "?") }
    }
}

/// The ESC/POS commands receipts use, and the layout of a document as printer bytes.
///
/// Chinese mode: Epson's Chinese models, Xprinter and Gprinter (佳博) all read double-byte text in
/// "Kanji / Chinese character mode", selected with FS & (1C 26) and left with FS . (1C 2E). Most power
/// on in it, but a previous job (or another application on a shared printer) may have left it off, so
/// every job selects it after ESC @ and leaves it at the end. In that mode a byte below 0x80 prints as a
/// half-width font A character and a GB18030 sequence as one full-width glyph; FS C (code system) is not
/// sent, since Chinese models have GB18030 fixed and the command means Shift-JIS on Japanese ones.
/// Many printers implement only GB18030's two-byte areas (GBK), so the renderer prefers two-byte forms
/// where a one-to-one one exists (¥ is sent as ￥).
enum EscPos {
    /// ESC @: clear the buffer and modes left by an earlier job.
    static let initialize: [UInt8] = [0x1B, 0x40]
    /// ESC M 0: font A (12 × 24 dots), the font the column counts assume.
    static let fontA: [UInt8] = [0x1B, 0x4D, 0x00]
    /// FS &: Chinese character mode.
    static let enterChinese: [UInt8] = [0x1C, 0x26]
    /// FS .: back to single-byte mode.
    static let leaveChinese: [UInt8] = [0x1C, 0x2E]
    /// ESC p 0 25 250: a pulse on drawer pin 2, 50 ms on, 500 ms off.
    static let drawerKick: [UInt8] = [0x1B, 0x70, 0x00, 0x19, 0xFA]
    /// GS V 66 3: feed to the cutter plus 3 motion units (so the last line clears the blade), partial cut.
    static let feedAndCut: [UInt8] = [0x1D, 0x56, 0x42, 0x03]
    static let lineFeed: UInt8 = 0x0A

    /// ESC a n: 0 left, 1 centre.
    static func align(center: Bool) -> [UInt8] { [0x1B, 0x61, center ? 1 : 0] }
    /// ESC E n: emphasised (bold) on or off.
    static func bold(_ on: Bool) -> [UInt8] { [0x1B, 0x45, on ? 1 : 0] }
    /// GS ! n: character size; 0x00 normal, 0x01 double height, 0x11 double width and height
    /// (applies to Chinese characters too).
    static func size(_ n: UInt8) -> [UInt8] { [0x1D, 0x21, n] }

    /// QR code of model 2 through GS ( k: select the model, module size, error correction level M
    /// (15%, survives a smudge), store the data, print it.
    static func qr(_ data: [UInt8], moduleSize: UInt8) -> [UInt8] {
        let stored = data.count + 3
        return [0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00]      // fn 165: model 2
            + [0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, moduleSize]        // fn 167: module size in dots
            + [0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x31]              // fn 169: error correction M
            + [0x1D, 0x28, 0x6B, UInt8(stored & 0xFF), UInt8(stored >> 8), 0x31, 0x50, 0x30] + data  // fn 180: store
            + [0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30]              // fn 181: print
    }

    /// Longest QR payload sent as a code: version 10 at level M holds 213 bytes in 57 modules, which at
    /// 6 dots a module (58 mm) is 342 of the head's 384 dots, and at 8 dots (80 mm) 456 of 576. A longer
    /// link prints as text rather than as a code the paper cannot hold.
    static let qrCapacity = 213

    /// Text as printer bytes, in the forms GBK-only printers also know.
    static func encode(_ text: String) -> [UInt8] {
        GB18030.encode(text.replacingOccurrences(of: "\u{A5}", with: "\u{FFE5}"))
    }

    /// A whole document: initialise, Chinese mode, drawer kick when due, the lines, cut.
    static func bytes(_ document: ReceiptDocument, paper: PaperWidth) -> [UInt8] {
        var out = initialize + fontA + enterChinese
        // Kick first: the drawer is open by the time the receipt is torn off.
        if document.opensDrawer { out += drawerKick }
        for line in ReceiptLayout.lines(document, columns: paper.columns) {
            switch line {
            case .plain(let text):
                out += encode(text) + [lineFeed]
            case .strong(let text):
                out += bold(true) + size(0x01) + encode(text) + [lineFeed] + size(0x00) + bold(false)
            case .large(let text):
                out += align(center: true) + bold(true) + size(0x11) + encode(text) + [lineFeed]
                    + size(0x00) + bold(false) + align(center: false)
            case .qr(let data, let fallback):
                let payload = Array(data.utf8)
                if payload.count <= qrCapacity {
                    out += align(center: true) + qr(payload, moduleSize: paper == .mm58 ? 6 : 8) + [lineFeed] + align(center: false)
                } else {
                    for text in fallback { out += encode(text) + [lineFeed] }
                }
            }
        }
        return out + leaveChinese + feedAndCut
    }
}
