import Foundation

/// Django REST Framework's `LimitOffsetPagination`, as Hub configures it, with a cap on `limit`.
struct StencilaPagination {
    static let defaultLimit = 50
    /// Hub has no maximum; Latchkey caps a page at this many tokens.
    static let maxLimit = 1000

    let limit: Int
    let offset: Int
    /// The request's absolute URL, without its query.
    let baseURL: String
    /// The request's query parameters, in order, decoded.
    let query: [(name: String, value: String)]

    init(baseURL: String, rawQuery: String) {
        self.baseURL = baseURL
        let query = FormEncoding.pairs(rawQuery)
        self.query = query
        let last = { (name: String) in query.last(where: { $0.name == name })?.value }
        // Zero, negative or non-integer limits fall back to the default; offsets to 0.
        if let value = last("limit").flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }), value > 0 {
            limit = min(value, Self.maxLimit)
        } else {
            limit = Self.defaultLimit
        }
        if let value = last("offset").flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }), value >= 0 {
            offset = value
        } else {
            offset = 0
        }
    }

    func next(count: Int) -> String? {
        guard offset + limit < count else { return nil }
        return url(replacing: ["limit": "\(limit)", "offset": "\(offset + limit)"])
    }

    var previous: String? {
        guard offset > 0 else { return nil }
        if offset - limit <= 0 {
            return url(replacing: ["limit": "\(limit)"], removing: "offset")
        }
        return url(replacing: ["limit": "\(limit)", "offset": "\(offset - limit)"])
    }

    /// DRF's `replace_query_param`: the other parameters are kept, and all are sorted by name.
    private func url(replacing replacements: [String: String], removing removed: String? = nil) -> String {
        var names: [String] = []
        var values: [String: [String]] = [:]
        for (name, value) in query where name != removed {
            if values[name] == nil { names.append(name) }
            values[name, default: []].append(value)
        }
        for (name, value) in replacements {
            if values[name] == nil { names.append(name) }
            values[name] = [value]
        }
        let encoded = names.sorted().flatMap { name in
            values[name, default: []].map { "\(Self.quotePlus(name))=\(Self.quotePlus($0))" }
        }
        return baseURL + "?" + encoded.joined(separator: "&")
    }

    /// Python's `quote_plus`: unreserved characters stay, spaces become `+`.
    static func quotePlus(_ text: String) -> String {
        var allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-~")
        allowed.insert(" ")
        let escaped = text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
        return escaped.replacingOccurrences(of: " ", with: "+")
    }
}
