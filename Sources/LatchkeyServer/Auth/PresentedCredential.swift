import Foundation

/// What a request's `Authorization` header carries, read the way Django REST
/// Framework and knox read it (Stencila Hub's stack), so that each dialect can
/// answer a bad header with its own exact message.
public enum PresentedCredential: Equatable, Sendable {
    /// No header, or a scheme Latchkey does not handle.
    case none
    /// `Token <t>`, `Bearer <t>`, Basic with the token as username and no password,
    /// or Basic with username `$app` and the token as password (how `docker login` uses Quay tokens).
    case token(String)
    /// Basic with a username and a password: never a user's password on a request,
    /// only a service client's id and secret where a call takes those.
    case password(username: String, password: String)
    case malformed(Problem)

    public enum Problem: Equatable, Sendable {
        case tokenWithoutCredentials
        case tokenWithSpaces
        case basicWithoutCredentials
        case basicWithSpaces
        case basicNotBase64
    }

    /// The username with which Basic authentication carries an app token as its password.
    public static let appTokenUsername = "$app"

    public init(authorization header: String?) {
        guard let header else {
            self = .none
            return
        }
        // Bytes, as Django splits the header; one string made, the credential's.
        let parts = header.utf8.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
        guard let scheme = parts.first else {
            self = .none
            return
        }
        if Self.isScheme(scheme, "token") || Self.isScheme(scheme, "bearer") {
            switch parts.count {
            case 1: self = .malformed(.tokenWithoutCredentials)
            case 2: self = .token(String(Substring(parts[1])))
            default: self = .malformed(.tokenWithSpaces)
            }
        } else if Self.isScheme(scheme, "basic") {
            switch parts.count {
            case 1: self = .malformed(.basicWithoutCredentials)
            case 2: self = Self.basic(Substring(parts[1]))
            default: self = .malformed(.basicWithSpaces)
            }
        } else {
            self = .none
        }
    }

    /// Whether `bytes` are `name` in any ASCII case (Django lowercases the scheme's bytes).
    private static func isScheme(_ bytes: Substring.UTF8View, _ name: StaticString) -> Bool {
        name.withUTF8Buffer { lowercase in
            bytes.elementsEqual(lowercase) { byte, expected in
                (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte) == expected
            }
        }
    }

    private static func basic(_ encoded: Substring) -> PresentedCredential {
        guard let decoded = lenientBase64Decode(encoded) else { return .malformed(.basicNotBase64) }
        // HTTP header bytes are ISO-8859-1, as in Django; every byte sequence decodes.
        let text = String(decoded.map { Character(Unicode.Scalar($0)) })
        let username: Substring
        let password: Substring
        if let colon = text.firstIndex(of: ":") {
            username = text[..<colon]
            password = text[text.index(after: colon)...]
        } else {
            username = text[...]
            password = ""
        }
        if password.isEmpty { return .token(String(username)) }
        if username == appTokenUsername { return .token(String(password)) }
        return .password(username: String(username), password: String(password))
    }

    /// Base64 as Python's `base64.b64decode` reads it by default: characters
    /// outside the alphabet are skipped, padding is required where data needs it.
    static func lenientBase64Decode(_ text: Substring) -> [UInt8]? {
        var data: [UInt8] = []
        var padding = 0
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"):
                if padding > 0 { break }  // data after padding is ignored
                data.append(byte)
            case UInt8(ascii: "="):
                padding += 1
            default:
                continue
            }
        }
        switch data.count % 4 {
        case 1: return nil
        case 2 where padding < 2: return nil
        case 3 where padding < 1: return nil
        default: break
        }
        let padded = String(decoding: data, as: UTF8.self) + String(repeating: "=", count: (4 - data.count % 4) % 4)
        return Data(base64Encoded: padded).map(Array.init)
    }
}
