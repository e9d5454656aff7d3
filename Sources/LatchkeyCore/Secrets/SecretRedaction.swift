import Foundation

/// Removes anything shaped like a Latchkey secret from text bound for a log: a token
/// (`lk_…`) or a service client's secret (`lks_…`), however it got there (a path, an
/// error, a header echoed in a message). The public `key` part of a token is kept.
public enum SecretRedaction {
    /// Prefixes of secrets, each followed by base62 characters.
    static let prefixes: [[UInt8]] = [Array("lks_".utf8), Array("lk_".utf8)]
    /// A run this long after a prefix is treated as a secret (keys are 5 after `lk_`).
    static let minimumSecretCharacters = 6

    public static func redact(_ text: String) -> String {
        // Most lines hold no `_` at all: answer those without copying them.
        guard text.utf8.count >= 3, text.utf8.contains(UInt8(ascii: "_")) else { return text }
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        var changed = false
        scan: while index < bytes.count {
            for prefix in prefixes where bytes[index...].starts(with: prefix) {
                var end = index + prefix.count
                while end < bytes.count, Base62.isDigit(bytes[end]) { end += 1 }
                let secretLength = end - index - prefix.count
                guard secretLength >= minimumSecretCharacters else { continue }
                // Keep what a token's public key shows (`lk_AbC12`), drop the rest.
                let kept = prefix == Array("lk_".utf8) ? min(TokenSecret.keyLength, end - index) : prefix.count
                output += bytes[index..<(index + kept)]
                output += Array("…[redacted]".utf8)
                index = end
                changed = true
                continue scan
            }
            output.append(bytes[index])
            index += 1
        }
        return changed ? String(decoding: output, as: UTF8.self) : text
    }
}
