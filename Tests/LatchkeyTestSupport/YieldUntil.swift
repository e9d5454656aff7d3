import Testing

/// Yields to other tasks until `condition` holds, and requires that it does: for a state that
/// other tasks of this process reach without waiting on any clock (a job taking its place in a
/// queue, a timer starting to sleep). Bounded by a count of yields, never by the wall clock.
public func yieldUntil(
    _ condition: () -> Bool, sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    for _ in 0..<100_000 where !condition() { await Task.yield() }
    try #require(condition(), sourceLocation: sourceLocation)
}
