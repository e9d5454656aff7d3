/// How many may wait, possibly none: password checks queued for a worker.
struct QueueLength: BoundedWholeNumber, Hashable {
    static let range = 0...1_000_000
    let value: Int
}
