import Foundation

enum Output {
    static func json(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func date(_ date: Date?) -> String {
        date.map { $0.formatted(.iso8601) } ?? "never"
    }

    /// Left-aligned columns, for people.
    static func table(_ header: [String], _ rows: [[String]]) {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        for row in all {
            let cells = row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }
            print(cells.joined(separator: "  "))
        }
    }

    /// One record, a name and its value a line, the values aligned, for people.
    static func fields(_ fields: [(name: String, value: String)]) {
        let width = fields.map { $0.name.count }.max() ?? 0
        for field in fields {
            print(field.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + field.value)
        }
    }
}
