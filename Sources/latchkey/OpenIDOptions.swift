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
        var linkByEmail: Bool?

        enum CodingKeys: String, CodingKey {
            case preset, issuer, audiences
            case jwksURL = "jwks_url"
            case linkByEmail = "link_by_email"
        }
    }

    static func providers(file: String?) throws -> [OpenIDProvider] {
        var providers: [OpenIDProvider] = []
        if let issuer = environment("LATCHKEY_OIDC_ISSUER") {
            providers.append(
                OpenIDProvider(
                    issuer: issuer, audiences: try audiences("LATCHKEY_OIDC_AUDIENCES"),
                    jwksURL: environment("LATCHKEY_OIDC_JWKS_URL"),
                    linkByEmail: try environmentFlag("LATCHKEY_OIDC_LINK_BY_EMAIL")))
        }
        if environment("LATCHKEY_OIDC_GOOGLE_AUDIENCES") != nil {
            providers.append(
                .google(
                    audiences: try audiences("LATCHKEY_OIDC_GOOGLE_AUDIENCES"),
                    linkByEmail: try environmentFlag("LATCHKEY_OIDC_GOOGLE_LINK_BY_EMAIL")))
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
            case ("google"?, _): return .google(audiences: entry.audiences, linkByEmail: entry.linkByEmail ?? false)
            case (nil, let issuer?):
                return OpenIDProvider(
                    issuer: issuer, audiences: entry.audiences, jwksURL: entry.jwksURL,
                    linkByEmail: entry.linkByEmail ?? false)
            default: throw CLIError("every provider in \(path) needs an issuer, or \"preset\": \"google\"")
            }
        }
    }
}
