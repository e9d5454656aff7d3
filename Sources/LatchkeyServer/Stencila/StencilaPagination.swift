import Foundation

/// Django REST Framework's `LimitOffsetPagination`, as Hub configures it, with a cap on `limit`.
struct StencilaPagination {
    static let defaultLimit = 50
    /// Hub has no maximum; Latchkey caps a page at this many tokens.
    static let maxLimit = 1000
    /// More tokens than anyone holds; larger offsets are read as this, so that
    /// `offset + limit` can never overflow.
    static let maxOffset = 1_000_000_000

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
        if let value = last("limit").flatMap({ Self.wholeNumber($0, atMost: Self.maxLimit) }), value > 0 {
            limit = value
        } else {
            limit = Self.defaultLimit
        }
        if let value = last("offset").flatMap({ Self.wholeNumber($0, atMost: Self.maxOffset) }), value >= 0 {
            offset = value
        } else {
            offset = 0
        }
    }

    /// An integer as Python's `int()` reads it (surrounding spaces, an optional sign),
    /// saturated to `-bound...bound`, so that no arithmetic on it can overflow: Python's
    /// integers have no bound, so 10^30 is a valid (empty) page there too.
    static func wholeNumber(_ text: String, atMost bound: Int) -> Int? {
        var digits = Substring(text.trimmingCharacters(in: .whitespaces))
        let negative = digits.first == "-"
        if digits.first == "-" || digits.first == "+" { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return nil }
        let magnitude = Int(digits).map { min($0, bound) } ?? bound
        return negative ? -magnitude : magnitude
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

    /// Python's `quote_plus`: unreserved characters stay, spaces become `+`, every other
    /// UTF-8 byte is `%XX`.
    static func quotePlus(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"),
                UInt8(ascii: "~"):
                bytes.append(byte)
            case UInt8(ascii: " "):
                bytes.append(UInt8(ascii: "+"))
            default:
                bytes += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
