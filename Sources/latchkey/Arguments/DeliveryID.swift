/// A webhook delivery's id, as `latchkey webhook deliveries` shows it.
struct DeliveryID: BoundedWholeNumber, Hashable {
    static let range = 1...Int.max
    let value: Int
}
