/// Errors of the store itself, as opposed to what the domain refuses (`StorageError`) or
/// a database out of reach (`StorageUnavailable`).
public enum StoreError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(location: String, reason: String)
    /// A row the database answered with but Latchkey cannot read (an unknown token kind, a
    /// malformed uuid). The database is reachable, the row is wrong: an internal error, the
    /// same on every backend.
    case unreadableRow(table: String, id: Int64, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let location, let reason): "cannot open the database at \(location): \(reason)"
        case .unreadableRow(let table, let id, let reason): "row \(id) of \(table) cannot be read: \(reason)"
        }
    }
}
