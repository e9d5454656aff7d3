/// How many of something there may be, at least one: live tokens per user, password workers.
struct PositiveCount: BoundedWholeNumber, Hashable {
    static let range = 1...1_000_000
    let value: Int
}
