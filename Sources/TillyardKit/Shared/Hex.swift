/// Lower-case hexadecimal text of bytes (digests, tokens).
///
/// `String(format: "%02x")` per byte costs about a microsecond each on Linux; the journal hash of
/// every sale is made inside the single SQLite writer's transaction, where that time is serial.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// The bytes as two lower-case hex digits each.
    public static func string<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
