import Crypto
import CryptoExtras
import Foundation

/// scrypt password hashes as PHC strings: `$scrypt$ln=17,r=8,p=1$<salt>$<hash>`.
///
/// Hashing costs about 128 MiB and a good fraction of a second by design, so it runs
/// on an injected `BlockingExecutor`, never on an event loop, and only through a `BoundedWorkQueue`:
/// at most `maxRunning` derivations at once and a bounded line behind them, so a burst
/// of sign-ins is refused (503) rather than queued without end, holding memory.
public struct PasswordHasher: Sendable {
    public struct Parameters: Sendable, Hashable {
        /// log2 of scrypt's N.
        public var logRounds: Int
        public var blockSize: Int
        public var parallelism: Int

        public init(logRounds: Int, blockSize: Int, parallelism: Int) {
            self.logRounds = logRounds
            self.blockSize = blockSize
            self.parallelism = parallelism
        }

        /// OWASP's recommendation: N=2^17, r=8, p=1.
        public static let owasp = Parameters(logRounds: 17, blockSize: 8, parallelism: 1)
    }

    public enum HashError: Error, CustomStringConvertible {
        case emptyPassword
        public var description: String { "the password must not be empty" }
    }

    static let saltLength = 16
    static let hashLength = 32

    public let parameters: Parameters
    public let queue: BoundedWorkQueue
    private let executor: any BlockingExecutor

    /// - Parameter executor: where derivations run; the server passes a pool of its own.
    public init(
        parameters: Parameters = .owasp, queue: BoundedWorkQueue = BoundedWorkQueue(),
        executor: any BlockingExecutor = DispatchExecutor()
    ) {
        self.parameters = parameters
        self.queue = queue
        self.executor = executor
    }

    /// - Parameter isWanted: asked just before the work starts; false drops it (the client left).
    public func hash(_ password: String, isWanted: @Sendable () -> Bool = { true }) async throws -> String {
        guard !password.isEmpty else { throw HashError.emptyPassword }
        let parameters = self.parameters
        return try await offload(isWanted: isWanted) {
            var salt = [UInt8](repeating: 0, count: Self.saltLength)
            var generator = SystemRandomNumberGenerator()
            for index in salt.indices { salt[index] = generator.next() }
            let derived = try Self.derive(password, salt: salt, parameters: parameters)
            return PHCString(parameters: parameters, salt: Data(salt), hash: derived).encoded
        }
    }

    /// Checks `password` against `stored`: an scrypt PHC string, or a hash imported from
    /// another system (`ImportedPasswordHash`). With `stored == nil` (no such user, or no
    /// password set) it still does the work of one verification and fails, so the
    /// answer takes as long whether or not the account exists.
    public func verify(_ password: String, against stored: String?, isWanted: @Sendable () -> Bool = { true })
        async throws -> Bool
    {
        let parameters = self.parameters
        return try await offload(isWanted: isWanted) {
            guard let stored, let phc = PHCString(stored) else {
                // Not scrypt (no account, no password, or an imported hash): one scrypt's work
                // anyway, so that the time taken does not tell these apart.
                _ = try Self.derive(
                    password, salt: [UInt8](repeating: 0, count: Self.saltLength), parameters: parameters)
                return try stored.flatMap(ImportedPasswordHash.init)?.matches(password) ?? false
            }
            let derived = try Self.derive(password, salt: Array(phc.salt), parameters: phc.parameters)
            return constantTimeEqual(derived, phc.hash)
        }
    }

    /// Whether a hash that just verified should be replaced by one at this hasher's parameters.
    public func needsRehash(_ stored: String) -> Bool {
        PHCString(stored)?.parameters != parameters
    }

    /// Whether `latchkey user import` accepts `hash`: bcrypt or Django PBKDF2 at bounded costs,
    /// or scrypt costing no more than OWASP's parameters (128 MiB, one lane).
    public static func isImportable(_ hash: String) -> Bool {
        if ImportedPasswordHash(hash) != nil { return true }
        guard let phc = PHCString(hash) else { return false }
        let owasp = Parameters.owasp
        return phc.parameters.logRounds <= owasp.logRounds && phc.parameters.blockSize <= owasp.blockSize
            && phc.parameters.parallelism <= owasp.parallelism
    }

    private func offload<T: Sendable>(isWanted: @Sendable () -> Bool, _ work: @Sendable @escaping () throws -> T)
        async throws -> T
    {
        let executor = self.executor
        return try await queue.run(isWanted: isWanted) { try await executor.run(work) }
    }

    private static func derive(_ password: String, salt: [UInt8], parameters: Parameters) throws -> Data {
        let key = try KDF.Scrypt.deriveKey(
            from: Array(password.utf8), salt: salt, outputByteCount: hashLength,
            rounds: 1 << parameters.logRounds, blockSize: parameters.blockSize,
            parallelism: parameters.parallelism)
        return key.withUnsafeBytes { Data($0) }
    }
}

/// Whether two byte strings are equal, in time that depends only on their lengths.
public func constantTimeEqual(_ lhs: Data, _ rhs: Data) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for (left, right) in zip(lhs, rhs) { difference |= left ^ right }
    return difference == 0
}

/// The PHC string format (https://github.com/P-H-C/phc-string-format) for scrypt.
struct PHCString {
    var parameters: PasswordHasher.Parameters
    var salt: Data
    var hash: Data

    init(parameters: PasswordHasher.Parameters, salt: Data, hash: Data) {
        self.parameters = parameters
        self.salt = salt
        self.hash = hash
    }

    init?(_ text: String) {
        let fields = text.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0].isEmpty, fields[1] == "scrypt" else { return nil }
        var values: [Substring: Int] = [:]
        for pair in fields[2].split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let value = Int(parts[1]) else { return nil }
            values[parts[0]] = value
        }
        guard let logRounds = values["ln"], (1...30).contains(logRounds),
            let blockSize = values["r"], blockSize > 0,
            let parallelism = values["p"], parallelism > 0,
            let salt = Data(unpaddedBase64: fields[3]), let hash = Data(unpaddedBase64: fields[4]),
            !hash.isEmpty
        else { return nil }
        self.parameters = .init(logRounds: logRounds, blockSize: blockSize, parallelism: parallelism)
        self.salt = salt
        self.hash = hash
    }

    var encoded: String {
        "$scrypt$ln=\(parameters.logRounds),r=\(parameters.blockSize),p=\(parameters.parallelism)"
            + "$\(salt.unpaddedBase64)$\(hash.unpaddedBase64)"
    }
}

extension Data {
    var unpaddedBase64: String {
        var text = base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    init?(unpaddedBase64 text: some StringProtocol) {
        let padding = String(repeating: "=", count: (4 - text.count % 4) % 4)
        self.init(base64Encoded: String(text) + padding)
    }
}
