import Foundation
import LatchkeyCore
import Testing

@testable import LatchkeyServer

/// The streaming encoder against Foundation's `JSONEncoder` (`.withoutEscapingSlashes`), which
/// wrote every response body before it: the same JSON for the same values, members in the
/// order they are encoded (Foundation on Linux writes them in hash order).
@Suite("Streaming JSON encoder")
struct StreamingJSONEncoderTests {
    struct Inner: Encodable, Equatable {
        var name: String
        var tags: [String]
    }

    struct Everything: Encodable {
        var text =
            "quote \" backslash \\ slash / newline \n tab \t return \r control \u{01}\u{1F} bell \u{7F} é 😀 \u{2028}"
        var empty = ""
        var small: Int = -42
        var big = Int64.max
        var least = Int64.min
        var unsigned: UInt8 = 255
        var halves = 1.5
        var whole = 3.0
        var negativeZero = -0.0
        var huge = 1e20
        var tiny = 1e-7
        var single: Float = 0.25
        var yes = true
        var absent: String? = nil
        @NullWhenAbsent var shownAbsent: String? = nil
        @NullWhenAbsent var shownPresent: String? = "here"
        var inner = Inner(name: "a", tags: ["x", "y"])
        var inners = [Inner(name: "b", tags: []), Inner(name: "c", tags: ["z"])]
        var nothing: [Int] = []
        var nested: [[Int]] = [[1, 2], [], [3]]
        var bytes = Data([0, 1, 2, 250, 251, 252])
        var link = URL(string: "https://tokens.example.org/api/tokens/?limit=50&offset=50")!
        var optionalNumbers: [Int?] = [1, nil, 3]
    }

    /// Writes through nested containers and a super encoder, as hand-written `encode(to:)` may.
    struct Handwritten: Encodable {
        enum Keys: String, CodingKey { case first, nested, list, last, `super` }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(1, forKey: .first)
            var nested = container.nestedContainer(keyedBy: Keys.self, forKey: .nested)
            try nested.encode("deep", forKey: .first)
            try nested.encodeNil(forKey: .last)
            var list = container.nestedUnkeyedContainer(forKey: .list)
            try list.encode(true)
            var inList = list.nestedContainer(keyedBy: Keys.self)
            try inList.encode([1, 2], forKey: .first)
            try list.encodeNil()
            try container.encode("end", forKey: .last)
        }
    }

    struct Nothing: Encodable {
        func encode(to encoder: any Encoder) throws {}
    }

    func foundation(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    func streaming(_ value: some Encodable) throws -> String {
        String(decoding: try StreamingJSONEncoder().encode(value), as: UTF8.self)
    }

    /// Whether both encoders write the same JSON value (members in any order, numbers by value).
    func sameJSON(_ value: some Encodable, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (ours, theirs) = (try streaming(value), try foundation(value))
        let parsed = try [ours, theirs].map {
            try JSONSerialization.jsonObject(with: Data($0.utf8), options: .fragmentsAllowed) as? NSObject
        }
        #expect(
            parsed[0] != nil && parsed[0] == parsed[1], "\(ours)\nis not\n\(theirs)", sourceLocation: sourceLocation)
    }

    @Test func everyKindOfValueIsWrittenAsFoundationWritesIt() throws {
        try sameJSON(Everything())
        try sameJSON(Handwritten())
        try sameJSON([Inner(name: "top", tags: [])])
        try sameJSON("just a string")
        try sameJSON(7)
        try sameJSON(Optional<Int>.none)
        try sameJSON([Nothing(), Nothing()])
        // Strings byte for byte: the escapes are the same ones.
        let text = Everything().text
        #expect(try streaming(text) == foundation(text))
    }

    @Test func membersComeInTheOrderTheyAreEncoded() throws {
        #expect(try streaming(Inner(name: "n", tags: ["t"])) == #"{"name":"n","tags":["t"]}"#)
        #expect(
            try streaming(Handwritten())
                == #"{"first":1,"nested":{"first":"deep","last":null},"list":[true,{"first":[1,2]},null],"last":"end"}"#
        )
    }

    @Test func dictionariesHoldTheSameMembers() throws {
        let members = ["b": 2, "a": 1, "c": 3, "with \"quote\"": 4]
        let parsed = try JSONSerialization.jsonObject(with: Data(streaming(members).utf8)) as? [String: Int]
        #expect(parsed == members)
    }

    @Test func theWireTypesAreWrittenAsBefore() throws {
        let user = User(
            id: 7, username: "sam", email: "sam@example.org", firstName: "Sam", lastName: "O'Brien \"Q\"",
            passwordHash: nil, isActive: true, isAdmin: false,
            created: Date(microsecondsSince1970: 1_800_000_000_123_456))
        try sameJSON(StencilaMe(user))
        let secret = TokenSecret.generate()
        let token = Token(
            id: 1, uuid: UUID(), key: secret.key, ownerID: 7, title: "ci \"main\"", kind: .app, scopes: ["repo:read"],
            created: user.created, expires: nil, slidingLifetime: nil, lastUsed: user.created, lastUsedIP: "::1",
            digest: secret.digest, sealedSecret: nil)
        try sameJSON(StencilaToken(token))
        try sameJSON(StencilaError.Body(message: "Invalid input.", errors: [.init(field: "expiry", message: "bad")]))
        try sameJSON(StencilaError.Body(message: "Not found.", errors: nil))
    }

    @Test func numbersJSONCannotHoldAreRefused() {
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder().encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder().encode(["x": Double.infinity]) }
    }
}
