import Foundation
import LatchkeyServer

/// OpenID Connect providers, from the environment and an optional JSON file:
///
///     LATCHKEY_OIDC_ISSUER=https://id.example.org LATCHKEY_OIDC_AUDIENCES=app1,app2 [LATCHKEY_OIDC_JWKS_URL=…]
///     LATCHKEY_OIDC_GOOGLE_AUDIENCES=1234.apps.googleusercontent.com
///     --oidc-providers providers.json   (or LATCHKEY_OIDC_PROVIDERS_FILE)
///       [{"issuer": "https://id.example.org", "audiences": ["app1"], "jwks_url": "…"},
///        {"preset": "google", "audiences": ["1234.apps.googleusercontent.com"]}]
enum OpenIDOptions {
    private struct FileEntry: Decodable {
        var preset: String?
        var issuer: String?
        var audiences: [String]
        var jwksURL: String?

        enum CodingKeys: String, CodingKey {
            case preset, issuer, audiences
            case jwksURL = "jwks_url"
        }
    }

    static func providers(file: String?) throws -> [OpenIDProvider] {
        var providers: [OpenIDProvider] = []
        if let issuer = environment("LATCHKEY_OIDC_ISSUER") {
            providers.append(
                OpenIDProvider(
                    issuer: issuer, audiences: try audiences("LATCHKEY_OIDC_AUDIENCES"),
                    jwksURL: environment("LATCHKEY_OIDC_JWKS_URL")))
        }
        if environment("LATCHKEY_OIDC_GOOGLE_AUDIENCES") != nil {
            providers.append(.google(audiences: try audiences("LATCHKEY_OIDC_GOOGLE_AUDIENCES")))
        }
        if let path = file ?? environment("LATCHKEY_OIDC_PROVIDERS_FILE") {
            providers += try fromFile(path)
        }
        return providers
    }

    private static func audiences(_ variable: String) throws -> [String] {
        let list = (environment(variable) ?? "").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        guard !list.isEmpty else { throw CLIError("\(variable) must name at least one audience (comma-separated)") }
        return list
    }

    private static func fromFile(_ path: String) throws -> [OpenIDProvider] {
        let entries: [FileEntry]
        do {
            entries = try JSONDecoder().decode([FileEntry].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw CLIError("cannot read the OpenID Connect providers file \(path): it must be a JSON list of providers")
        }
        return try entries.map { entry in
            guard !entry.audiences.isEmpty else { throw CLIError("every provider in \(path) needs audiences") }
            switch (entry.preset, entry.issuer) {
            case ("google"?, _): return .google(audiences: entry.audiences)
            case (nil, let issuer?):
                return OpenIDProvider(issuer: issuer, audiences: entry.audiences, jwksURL: entry.jwksURL)
            default: throw CLIError("every provider in \(path) needs an issuer, or \"preset\": \"google\"")
            }
        }
    }
}
