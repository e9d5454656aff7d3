/// How many rows a listing prints at most.
struct ListingLimit: BoundedWholeNumber, Hashable {
    static let range = 1...100_000
    let value: Int
}
