import Foundation
import LatchkeyCore

/// An address or `ADDRESS/PREFIX` as `CIDR` reads it, e.g. `10.0.0.0/8`; spaces around it are ignored.
struct IPNetwork: ArgumentValue, Hashable {
    let cidr: CIDR

    init(parsing text: String) throws {
        cidr = try CIDR(text.trimmingCharacters(in: .whitespaces))
    }
}
