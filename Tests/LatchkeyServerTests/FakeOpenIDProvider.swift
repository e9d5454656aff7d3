import Crypto
import CryptoExtras
import Foundation
import Hummingbird
import JWTKit
import NIOCore
import Synchronization

/// A real OpenID Connect provider on a loopback port, for tests: it publishes a
/// discovery document and a JWKS of keys made at test time, and signs ID tokens. Its token
/// endpoint exchanges the codes a test issued for their ID tokens, checking the PKCE verifier.
final class FakeOpenIDProvider: Sendable {
    /// Key ids this provider can sign with; `publish` decides which the JWKS shows.
    static let rsaKid = "rsa-1"
    static let ecKid = "ec-1"
    static let rotatedKid = "rsa-2"

    let issuer: String
    let rsaPublicPEM: String
    private let box: ProviderBox
    private let signers: JWTKeyCollection
    private let jwks: [String: String]
    private let server: Task<Void, any Error>

    private init(
        port: Int, box: ProviderBox, signers: JWTKeyCollection, jwks: [String: String], rsaPublicPEM: String,
        server: Task<Void, any Error>
    ) {
        issuer = "http://127.0.0.1:\(port)"
        self.box = box
        self.signers = signers
        self.jwks = jwks
        self.rsaPublicPEM = rsaPublicPEM
        self.server = server
        box.issuer.withLock { $0 = issuer }
    }

    static func start() async throws -> FakeOpenIDProvider {
        let box = ProviderBox()
        let router = Router()
        router.get(".well-known/openid-configuration") { _, _ in
            let issuer = box.issuer.withLock { $0 }
            return json(
                #"{"issuer":"\#(issuer)","jwks_uri":"\#(issuer)/jwks","authorization_endpoint":"\#(issuer)/authorize","#
                    + #""token_endpoint":"\#(issuer)/token"}"#)
        }
        router.post("token") { request, _ in
            let body = try await request.body.collect(upTo: 64 * 1024)
            var form: [String: String] = [:]
            for pair in String(buffer: body).split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
                if parts.count == 2 { form[parts[0]] = parts[1] }
            }
            box.exchanges.withLock { $0.append(form) }
            // A code is good once, for the verifier whose S256 challenge it was issued with.
            guard form["grant_type"] == "authorization_code", let code = form["code"],
                let issued = box.codes.withLock({ $0.removeValue(forKey: code) }),
                let verifier = form["code_verifier"],
                base64URL(Data(SHA256.hash(data: Data(verifier.utf8)))) == issued.challenge
            else {
                return Response(
                    status: .badRequest, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"error":"invalid_grant"}"#)))
            }
            return json(#"{"token_type":"Bearer","access_token":"opaque","id_token":"\#(issued.idToken)"}"#)
        }
        router.get("jwks") { _, _ in
            box.jwksFetches.withLock { $0 += 1 }
            guard !box.failing.withLock({ $0 }) else { return Response(status: .internalServerError) }
            return json(#"{"keys":[\#(box.keys.withLock { $0 }.joined(separator: ","))]}"#)
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) })
        let server = Task { try await app.run() }
        var port = 0
        for await value in ports {
            port = value
            break
        }

        let rsa = try JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
        let rotated = try JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
        let ec = ES256PrivateKey()
        let signers = JWTKeyCollection()
        await signers.add(rsa: rsa, digestAlgorithm: .sha256, kid: JWKIdentifier(string: rsaKid))
        await signers.add(rsa: rotated, digestAlgorithm: .sha256, kid: JWKIdentifier(string: rotatedKid))
        await signers.add(ecdsa: ec, kid: JWKIdentifier(string: ecKid))
        let jwks = [
            rsaKid: try rsaJWK(rsa.publicKey, kid: rsaKid),
            rotatedKid: try rsaJWK(rotated.publicKey, kid: rotatedKid),
            ecKid: ecJWK(ec.publicKey, kid: ecKid),
        ]
        let provider = FakeOpenIDProvider(
            port: port, box: box, signers: signers, jwks: jwks, rsaPublicPEM: rsa.publicKey.pemRepresentation,
            server: server)
        provider.publish([rsaKid, ecKid])
        return provider
    }

    private static func json(_ text: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Serves exactly these keys from now on.
    func publish(_ kids: [String]) {
        box.keys.withLock { $0 = kids.compactMap { jwks[$0] } }
    }

    /// How many times the JWKS was fetched so far.
    var jwksFetches: Int { box.jwksFetches.withLock { $0 } }

    /// Makes the JWKS answer 500 (true) or its keys (false).
    func setFailing(_ failing: Bool) {
        box.failing.withLock { $0 = failing }
    }

    /// Makes `code` exchangeable, once, for `idToken` by whoever holds the verifier of `challenge`.
    func issue(code: String, challenge: String, idToken: String) {
        box.codes.withLock { $0[code] = (challenge, idToken) }
    }

    /// The forms the token endpoint received, in order.
    var exchanges: [[String: String]] { box.exchanges.withLock { $0 } }

    func stop() {
        server.cancel()
    }

    /// Claims of a valid token for `audience`; tests change what they need.
    func claims(audience: String = "latchkey-test", now: Date, email: String = "mary@example.org") -> [String: Any] {
        [
            "iss": issuer, "aud": audience, "sub": "subject-\(email)", "email": email, "email_verified": true,
            "given_name": "Mary", "family_name": "Morris", "iat": Int(now.timeIntervalSince1970),
            "exp": Int(now.timeIntervalSince1970) + 3600,
        ]
    }

    /// Signs `claims` with one of the provider's keys.
    func sign(_ claims: [String: Any], kid: String = rsaKid) async throws -> String {
        try await signers.sign(RawClaims(claims), kid: JWKIdentifier(string: kid))
    }

    private static func rsaJWK(_ key: JWTKit.Insecure.RSA.PublicKey, kid: String) throws -> String {
        let (modulus, exponent) = try key.getKeyPrimitives()
        return
            #"{"kty":"RSA","use":"sig","alg":"RS256","kid":"\#(kid)","n":"\#(base64URL(modulus))","e":"\#(base64URL(exponent))"}"#
    }

    private static func ecJWK(_ key: ES256PublicKey, kid: String) -> String {
        let (x, y) = key.parameters!
        return #"{"kty":"EC","use":"sig","alg":"ES256","crv":"P-256","kid":"\#(kid)","x":"\#(x)","y":"\#(y)"}"#
    }
}

final class ProviderBox: Sendable {
    let issuer = Mutex("")
    let keys = Mutex<[String]>([])
    /// How many times the JWKS was asked for.
    let jwksFetches = Mutex(0)
    /// While true, the JWKS answers 500.
    let failing = Mutex(false)
    let codes = Mutex<[String: (challenge: String, idToken: String)]>([:])
    let exchanges = Mutex<[[String: String]]>([])
}

func base64URL(_ data: some DataProtocol) -> String {
    Data(data).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

/// A token signed without a usable signature: `alg: none`, or HS256 keyed with the
/// RSA public key (the classic algorithm-confusion attack).
func unsignedToken(_ claims: [String: Any], alg: String, kid: String, hmacKey: String? = nil) throws -> String {
    let header = base64URL(try JSONSerialization.data(withJSONObject: ["alg": alg, "kid": kid, "typ": "JWT"]))
    let payload = base64URL(try JSONSerialization.data(withJSONObject: claims))
    let input = header + "." + payload
    guard let hmacKey else { return input + "." }
    let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(hmacKey.utf8)))
    return input + "." + base64URL(Data(mac))
}

/// Arbitrary claims, for signing test tokens.
struct RawClaims: JWTPayload, @unchecked Sendable {
    let values: [String: Any]

    init(_ values: [String: Any]) { self.values = values }

    init(from decoder: any Decoder) throws { values = [:] }

    func encode(to encoder: any Encoder) throws {
        let data = try JSONSerialization.data(withJSONObject: values)
        let any = try JSONDecoder().decode(AnyCodable.self, from: data)
        try any.encode(to: encoder)
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Re-encodes JSON through Codable.
private enum AnyCodable: Codable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case null
    case array([AnyCodable])
    case object([String: AnyCodable])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([AnyCodable].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: AnyCodable].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .null: try container.encodeNil()
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}
