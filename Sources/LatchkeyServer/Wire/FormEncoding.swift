import Foundation

/// `application/x-www-form-urlencoded` and query strings, read as Python's
/// `parse_qsl(keep_blank_values=True)` reads them.
enum FormEncoding {
    static func pairs(_ raw: String) -> [(name: String, value: String)] {
        raw.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (text: Substring) in
                text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text)
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    /// The last value of each name (as Django's `QueryDict` answers).
    static func lastValues(_ raw: String) -> [String: String] {
        var values: [String: String] = [:]
        for (name, value) in pairs(raw) { values[name] = value }
        return values
    }
}
