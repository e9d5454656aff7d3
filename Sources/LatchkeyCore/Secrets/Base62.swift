/// Base62 digits in ASCII order, so encoded numbers sort like the numbers.
enum Base62 {
    static let alphabet: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    static func isDigit(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
    }

    /// `value` as exactly `width` digits, zero-padded on the left.
    static func encode(_ value: UInt64, width: Int) -> String {
        var digits = [UInt8](repeating: alphabet[0], count: width)
        var rest = value
        for index in stride(from: width - 1, through: 0, by: -1) {
            digits[index] = alphabet[Int(rest % 62)]
            rest /= 62
        }
        precondition(rest == 0, "value does not fit in \(width) base62 digits")
        return String(decoding: digits, as: UTF8.self)
    }

    static func randomString(length: Int) -> String {
        var generator = SystemRandomNumberGenerator()  // getrandom(2): the system CSPRNG
        let digits = (0..<length).map { _ in alphabet[Int.random(in: 0..<62, using: &generator)] }
        return String(decoding: digits, as: UTF8.self)
    }
}

/// CRC-32 (IEEE 802.3, as in zlib): catches every single-character typo in a token.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 {
            crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1
        }
        return crc
    }

    static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return crc ^ 0xFFFF_FFFF
    }
}
