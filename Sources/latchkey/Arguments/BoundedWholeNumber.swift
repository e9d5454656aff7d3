import ArgumentParser

/// A whole number that an option accepts within `range`; each kind is its own type.
protocol BoundedWholeNumber: ArgumentValue {
    static var range: ClosedRange<Int> { get }
    var value: Int { get }
    init(value: Int)
}

extension BoundedWholeNumber {
    init(parsing text: String) throws {
        guard let value = Int(text), Self.range.contains(value) else {
            throw ValidationError("use a whole number from \(Self.range.lowerBound) to \(Self.range.upperBound)")
        }
        self.init(value: value)
    }
}
