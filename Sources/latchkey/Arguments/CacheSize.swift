/// Verified tokens a node keeps in memory; 0 turns the cache off.
struct CacheSize: BoundedWholeNumber, Hashable {
    static let range = 0...10_000_000
    let value: Int
}
