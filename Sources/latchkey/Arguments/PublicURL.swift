import Foundation

/// Where clients reach the service: an absolute http(s) URL with a host and nothing after
/// its path, e.g. `https://tokens.example.org`.
struct PublicURL: ArgumentValue, Hashable {
    let text: String

    init(parsing text: String) throws {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", url.host?.isEmpty == false, url.query == nil, url.fragment == nil,
            url.user == nil
        else {
            throw CLIError(
                "use an http or https URL with a host and nothing after its path, e.g. https://tokens.example.org")
        }
        self.text = text
    }
}
