import Foundation
import LatchkeyCore
import LatchkeyServer

/// An audit event as the CLI prints it; users by name (and id). Every key is always
/// present (`null` when empty), so that readers see one shape.
struct AuditEventView: Encodable {
    var id: Int64
    var at: Date
    var kind: String
    @NullWhenAbsent var user: String?
    @NullWhenAbsent var userID: Int64?
    @NullWhenAbsent var by: String?
    @NullWhenAbsent var byID: Int64?
    var via: String
    @NullWhenAbsent var address: String?
    @NullWhenAbsent var token: String?
    var detail: String

    init(_ event: AuditEvent, names: [Int64: String]) {
        id = event.id
        at = event.at
        kind = event.kind
        userID = event.userID
        user = event.userID.map { names[$0] ?? "#\($0)" }
        byID = event.origin.userID
        by = event.origin.userID.map { names[$0] ?? "#\($0)" }
        via = event.origin.via
        address = event.origin.address
        token = event.tokenUUID?.uuidString.lowercased()
        detail = event.detail
    }
}
