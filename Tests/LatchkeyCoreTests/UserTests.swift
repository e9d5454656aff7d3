import Foundation
import LatchkeyCore
import Testing

@Suite("User")
struct UserTests {
    func user(_ first: String, _ last: String) -> User {
        User(
            id: 1, username: "sam", email: nil, firstName: first, lastName: last, passwordHash: nil, isActive: true,
            isAdmin: false, created: Date(timeIntervalSince1970: 0))
    }

    /// The same answer as Foundation's `trimmingCharacters(in: .whitespaces)` of "first last",
    /// which it replaced on the request path.
    @Test(arguments: [
        ("Sam", "Tester"), ("", ""), ("Sam", ""), ("", "Tester"), (" Sam ", "\tTester\t"), ("\u{00A0}", "\u{3000}"),
        ("Sam\n", ""), ("", "\u{2003}Émile\u{200A}"), ("  ", " "), ("Ada", "Lovelace von\u{0020}"),
    ])
    func fullNameIsTrimmedAsFoundationTrimsWhitespace(first: String, last: String) {
        let expected = "\(first) \(last)".trimmingCharacters(in: .whitespaces)
        #expect(user(first, last).fullName == expected)
    }
}
