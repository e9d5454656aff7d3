import CCrypt
import Crypto
import CryptoExtras
import Foundation

/// A password hash brought from another system by `latchkey user import`: bcrypt (Quay's
/// `$2a$`/`$2b$`/`$2y$`, verified by the system's libxcrypt) or Django's
/// `pbkdf2_sha256$iterations$salt$hash` (Stencila Hub's, verified with swift-crypto's
/// PBKDF2). Each is replaced by scrypt at the account's next successful sign-in.
/// Costs are bounded so that one imported row cannot make a sign-in run for minutes.
enum ImportedPasswordHash {
    case bcrypt(String)
    case djangoPBKDF2(iterations: Int, salt: String, hash: Data)

    static let bcryptCosts = 4...16
    static let pbkdf2Iterations = 1_000...5_000_000

    init?(_ text: String) {
        if text.hasPrefix("pbkdf2_sha256$") {
            let fields = text.split(separator: "$", omittingEmptySubsequences: false)
            guard fields.count == 4, fields[1].count <= 8, fields[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                let iterations = Int(fields[1]), Self.pbkdf2Iterations.contains(iterations),
                !fields[2].isEmpty, fields[2].count <= 128, !fields[2].contains(where: { !$0.isASCII }),
                let hash = Data(base64Encoded: String(fields[3])), hash.count == 32
            else { return nil }
            self = .djangoPBKDF2(iterations: iterations, salt: String(fields[2]), hash: hash)
        } else if text.count == 60,
            ["$2a$", "$2b$", "$2y$"].contains(String(text.prefix(4))),
            text.dropFirst(4).prefix(2).allSatisfy({ $0.isASCII && $0.isNumber }),
            let cost = Int(text.dropFirst(4).prefix(2)), Self.bcryptCosts.contains(cost),
            text.dropFirst(6).first == "$",
            text.dropFirst(7).allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "/") })
        {
            self = .bcrypt(text)
        } else {
            return nil
        }
    }

    /// Runs the hash's own (slow) function; call it off the event loop.
    func matches(_ password: String) throws -> Bool {
        switch self {
        case .bcrypt(let stored):
            // bcrypt reads at most 72 bytes and stops at NUL; libxcrypt refuses NUL outright.
            guard !password.utf8.contains(0) else { return false }
            var data = crypt_data()
            let computed = withUnsafeMutablePointer(to: &data) { pointer -> String? in
                guard let result = crypt_r(password, stored, pointer) else { return nil }
                return String(cString: result)
            }
            guard let computed, computed.utf8.count == stored.utf8.count else { return false }
            return constantTimeEqual(Data(computed.utf8), Data(stored.utf8))
        case .djangoPBKDF2(let iterations, let salt, let hash):
            // Older Django releases used fewer rounds than swift-crypto's checked minimum;
            // `pbkdf2Iterations` bounds them instead.
            let derived = try KDF.Insecure.PBKDF2.deriveKey(
                from: Array(password.utf8), salt: Array(salt.utf8), using: .sha256, outputByteCount: hash.count,
                unsafeUncheckedRounds: iterations)
            return derived.withUnsafeBytes { constantTimeEqual(Data($0), hash) }
        }
    }
}
