import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Seals token secrets under the server key (AES-256-GCM), for the dialects
/// that must show a secret again (Quay's GET by uuid).
public struct SecretBox: Sendable {
    public enum KeyError: Error, CustomStringConvertible {
        case malformed
        case unreadable(path: String, reason: String)
        /// Group or others may read the key file.
        case tooOpen(path: String)

        public var description: String {
            switch self {
            case .malformed:
                "the server key must be 32 bytes in base64 (generate one with: openssl rand -base64 32)"
            case .unreadable(let path, let reason):
                "cannot use the server key file \(path): \(reason)"
            case .tooOpen(let path):
                "the server key file \(path) is readable by group or others; make it private with: chmod 600 \(path)"
            }
        }
    }

    private let key: SymmetricKey

    public init(key: SymmetricKey) {
        self.key = key
    }

    /// A key of its own for another use of the server key (HKDF-SHA256 under `label`): every
    /// node sharing the server key derives the same one, and none reveals the server key.
    public func derivedKey(for label: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Data(label.utf8), outputByteCount: 32)
    }

    /// A key given in configuration, as base64 of 32 bytes.
    public init(base64 text: String) throws {
        guard let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)),
            bytes.count == 32
        else { throw KeyError.malformed }
        key = SymmetricKey(data: bytes)
    }

    /// Reads the key kept at `path`, or makes one there on first use. The file is created
    /// with `O_CREAT|O_EXCL` at mode 0600 (never readable by others, not even for a moment),
    /// and an existing key file that group or others may read is refused.
    public static func loadOrCreate(at path: String) throws -> SecretBox {
        let key = SymmetricKey(size: .bits256)
        let text = key.withUnsafeBytes { Data($0) }.base64EncodedString() + "\n"
        let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            guard errno == EEXIST else { throw KeyError.unreadable(path: path, reason: "cannot create it") }
            return try load(from: path)
        }
        let written = text.utf8CString.withUnsafeBufferPointer { buffer in
            write(descriptor, buffer.baseAddress, buffer.count - 1)
        }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == text.utf8.count, synced else {
            unlink(path)
            throw KeyError.unreadable(path: path, reason: "cannot write it")
        }
        return SecretBox(key: key)
    }

    private static func load(from path: String) throws -> SecretBox {
        var status = stat()
        guard stat(path, &status) == 0 else { throw KeyError.unreadable(path: path, reason: "cannot read it") }
        guard status.st_mode & 0o077 == 0 else { throw KeyError.tooOpen(path: path) }
        do {
            return try SecretBox(base64: String(contentsOfFile: path, encoding: .utf8))
        } catch let error as KeyError {
            throw KeyError.unreadable(path: path, reason: "\(error)")
        } catch {
            throw KeyError.unreadable(path: path, reason: "cannot read it")
        }
    }

    public func seal(_ secret: TokenSecret) throws -> Data {
        try seal(Data(secret.value.utf8))
    }

    /// nil when the sealed data was not made with this key (for instance after a key change).
    public func open(_ sealed: Data) -> TokenSecret? {
        open(data: sealed).map { TokenSecret(String(decoding: $0, as: UTF8.self)) } ?? nil
    }

    /// Any secret's bytes (a webhook's signing key), sealed the same way.
    public func seal(_ plain: Data) throws -> Data {
        guard let combined = try AES.GCM.seal(plain, using: key).combined else {
            preconditionFailure("AES.GCM with the default nonce always has a combined form")
        }
        return combined
    }

    /// nil when the sealed data was not made with this key.
    public func open(data sealed: Data) -> Data? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed) else { return nil }
        return try? AES.GCM.open(box, using: key)
    }
}
