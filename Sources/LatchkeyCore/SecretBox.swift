import Crypto
import Foundation

/// Seals token secrets under the server key (AES-256-GCM), for the dialects
/// that must show a secret again (Quay's GET by uuid).
public struct SecretBox: Sendable {
    public enum KeyError: Error, CustomStringConvertible {
        case malformed
        case unreadable(path: String, reason: String)

        public var description: String {
            switch self {
            case .malformed:
                "the server key must be 32 bytes in base64 (generate one with: openssl rand -base64 32)"
            case .unreadable(let path, let reason):
                "cannot use the server key file \(path): \(reason)"
            }
        }
    }

    private let key: SymmetricKey

    public init(key: SymmetricKey) {
        self.key = key
    }

    /// A key given in configuration, as base64 of 32 bytes.
    public init(base64 text: String) throws {
        guard let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)),
            bytes.count == 32
        else { throw KeyError.malformed }
        key = SymmetricKey(data: bytes)
    }

    /// Reads the key kept at `path`, or makes one there (mode 0600) on first use.
    public static func loadOrCreate(at path: String) throws -> SecretBox {
        let manager = FileManager.default
        if manager.fileExists(atPath: path) {
            do {
                return try SecretBox(base64: String(contentsOfFile: path, encoding: .utf8))
            } catch let error as KeyError {
                throw KeyError.unreadable(path: path, reason: "\(error)")
            } catch {
                throw KeyError.unreadable(path: path, reason: "cannot read it")
            }
        }
        let key = SymmetricKey(size: .bits256)
        let text = key.withUnsafeBytes { Data($0) }.base64EncodedString() + "\n"
        guard manager.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        else { throw KeyError.unreadable(path: path, reason: "cannot create it") }
        return SecretBox(key: key)
    }

    public func seal(_ secret: TokenSecret) throws -> Data {
        guard let combined = try AES.GCM.seal(Data(secret.value.utf8), using: key).combined else {
            preconditionFailure("AES.GCM with the default nonce always has a combined form")
        }
        return combined
    }

    /// nil when the sealed data was not made with this key (for instance after a key change).
    public func open(_ sealed: Data) -> TokenSecret? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed),
            let plain = try? AES.GCM.open(box, using: key)
        else { return nil }
        return TokenSecret(String(decoding: plain, as: UTF8.self))
    }
}
