import Foundation
import LatchkeyServer

/// OpenID Connect providers, from the environment and an optional JSON file:
///
///     LATCHKEY_OIDC_ISSUER=https://id.example.org LATCHKEY_OIDC_AUDIENCES=app1,app2 [LATCHKEY_OIDC_JWKS_URL=…]
///       [LATCHKEY_OIDC_CLIENT_ID=app1 LATCHKEY_OIDC_CLIENT_SECRET=… LATCHKEY_OIDC_NAME="Example ID"]
///     LATCHKEY_OIDC_GOOGLE_AUDIENCES=1234.apps.googleusercontent.com
///     --oidc-providers providers.json   (or LATCHKEY_OIDC_PROVIDERS_FILE)
///       [{"issuer": "https://id.example.org", "audiences": ["app1"], "jwks_url": "…",
///         "web_client_id": "app1", "client_secret": "…", "name": "Example ID"},
///        {"preset": "google", "audiences": ["1234.apps.googleusercontent.com"]}]
///
/// A provider with a web client id (one of its audiences) also signs people in on the web
/// pages, with the authorization-code flow; the secret is optional (PKCE protects a public client).
enum OpenIDOptions {
    private struct FileEntry: Decodable {
        var preset: String?
        var issuer: String?
        var audiences: [String]
        var jwksURL: String?
        var linkByEmail: Bool?
        var webClientID: String?
        var clientSecret: String?
        var name: String?

        enum CodingKeys: String, CodingKey {
            case preset, issuer, audiences, name
            case jwksURL = "jwks_url"
            case linkByEmail = "link_by_email"
            case webClientID = "web_client_id"
            case clientSecret = "client_secret"
        }
    }

    static func providers(file: String?) throws -> [OpenIDProvider] {
        var providers: [OpenIDProvider] = []
        if let issuer = try ServerSettings.oidcIssuer.value() {
            let audiences = try audiences(ServerSettings.oidcAudiences)
            providers.append(
                OpenIDProvider(
                    issuer: issuer, audiences: audiences, jwksURL: try ServerSettings.oidcJWKSURL.value(),
                    linkByEmail: try ServerSettings.oidcLinkByEmail.isOn(),
                    webClient: try webClient(
                        id: try ServerSettings.oidcClientID.value(),
                        secret: try ServerSettings.oidcClientSecret.value(),
                        name: try ServerSettings.oidcName.value(), issuer: issuer, audiences: audiences,
                        source: ServerSettings.oidcClientID.variable)))
        }
        if try ServerSettings.googleAudiences.value() != nil {
            providers.append(
                .google(
                    audiences: try audiences(ServerSettings.googleAudiences),
                    linkByEmail: try ServerSettings.googleLinkByEmail.isOn()))
        }
        if let path = try ServerSettings.oidcProvidersFile.value(file) {
            providers += try fromFile(path)
        }
        return providers
    }

    private static func audiences(_ setting: Setting<String>) throws -> [String] {
        let variable = setting.variable
        let list = (try setting.value() ?? "").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        guard !list.isEmpty else { throw CLIError("\(variable) must name at least one audience (comma-separated)") }
        return list
    }

    /// The web pages' client of a provider, if an id is given; the id must be an audience,
    /// since the ID tokens the pages receive are issued to it.
    private static func webClient(
        id: String?, secret: String?, name: String?, issuer: String, audiences: [String], source: String
    ) throws -> OpenIDWebClient? {
        guard let id else { return nil }
        guard audiences.contains(id) else {
            throw CLIError("\(source) '\(id)' must be one of the provider's audiences")
        }
        return OpenIDWebClient(
            clientID: id, clientSecret: secret, name: name ?? URLComponents(string: issuer)?.host ?? issuer)
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
                    linkByEmail: entry.linkByEmail ?? false,
                    webClient: try webClient(
                        id: entry.webClientID, secret: entry.clientSecret, name: entry.name, issuer: issuer,
                        audiences: entry.audiences, source: "web_client_id in \(path)"))
            default: throw CLIError("every provider in \(path) needs an issuer, or \"preset\": \"google\"")
            }
        }
    }
}
