/// A TCP port to listen on; 0 lets the system choose a free one.
struct Port: BoundedWholeNumber, Hashable {
    static let range = 0...65_535
    let value: Int
}
