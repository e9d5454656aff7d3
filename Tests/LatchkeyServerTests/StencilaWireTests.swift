import Foundation
import LatchkeyCore
import LatchkeyTestSupport
import Testing

@testable import LatchkeyServer

@Suite("Authorization header")
struct PresentedCredentialTests {
    func basic(_ text: String) -> String { "Basic " + Data(text.utf8).base64EncodedString() }

    @Test func schemesAndShapesAreReadAsDjangoRestFrameworkReadsThem() {
        #expect(PresentedCredential(authorization: nil) == .none)
        #expect(PresentedCredential(authorization: "") == .none)
        #expect(PresentedCredential(authorization: "Digest abc") == .none)
        #expect(PresentedCredential(authorization: "Token abc") == .token("abc"))
        #expect(PresentedCredential(authorization: "tOKEN  abc ") == .token("abc"))
        #expect(PresentedCredential(authorization: "Bearer abc") == .token("abc"))
        #expect(PresentedCredential(authorization: "\tBEARER\tabc\t") == .token("abc"))
        #expect(PresentedCredential(authorization: "Tokén abc") == .none, "the scheme is compared as ASCII bytes")
        #expect(PresentedCredential(authorization: "Token") == .malformed(.tokenWithoutCredentials))
        #expect(PresentedCredential(authorization: "Bearer a b") == .malformed(.tokenWithSpaces))
        #expect(PresentedCredential(authorization: "Basic") == .malformed(.basicWithoutCredentials))
        #expect(PresentedCredential(authorization: "Basic a b") == .malformed(.basicWithSpaces))
        #expect(PresentedCredential(authorization: "Basic //////") == .malformed(.basicNotBase64))
        #expect(PresentedCredential(authorization: "Basic Y") == .malformed(.basicNotBase64))
    }

    @Test func basicCarriesTheTokenAsUsernameOrAsTheAppPassword() {
        #expect(PresentedCredential(authorization: basic("tok:")) == .token("tok"))
        #expect(PresentedCredential(authorization: basic("tok")) == .token("tok"))
        #expect(PresentedCredential(authorization: basic("$app:tok")) == .token("tok"))
        #expect(
            PresentedCredential(authorization: basic("sam:secret")) == .password(username: "sam", password: "secret"))
        #expect(PresentedCredential(authorization: basic("sam:pa:ss")) == .password(username: "sam", password: "pa:ss"))
    }

    @Test func base64IsReadLenientlyLikePython() {
        #expect(PresentedCredential.lenientBase64Decode("YWJj") == Array("abc".utf8))
        #expect(PresentedCredential.lenientBase64Decode("YW*Jj") == Array("abc".utf8))
        #expect(PresentedCredential.lenientBase64Decode("YWI=") == Array("ab".utf8))
        #expect(PresentedCredential.lenientBase64Decode("YWI") == nil)
        #expect(PresentedCredential.lenientBase64Decode("YQ==trailing") == Array("a".utf8))
    }
}

@Suite("Stencila wire format")
struct StencilaWireFormatTests {
    /// The integer calendar arithmetic agrees with Foundation's formatter across leap years,
    /// century years and the far past and future (a fixed seed: the same dates every run).
    @Test func datesAgreeWithFoundationsCalendar() {
        var generator = SplitMix64(seed: 20_261_123)
        let edges: [TimeInterval] = [0, -1, 951_782_400, 4_107_542_400, 253_402_300_799, -2_208_988_800]
        let samples =
            edges
            + (0..<5_000).map { _ in TimeInterval(Int64.random(in: -2_208_988_800...253_402_300_799, using: &generator))
            }
        for seconds in samples {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(StencilaWire.date(date) == date.formatted(.iso8601), "\(seconds)")
        }
    }

    @Test func datesAreISO8601WithMicrosecondsOnlyWhenNonZero() {
        #expect(StencilaWire.date(Date(microsecondsSince1970: 1_644_352_963_123_456)) == "2022-02-08T20:42:43.123456Z")
        #expect(StencilaWire.date(Date(microsecondsSince1970: 1_644_352_963_000_000)) == "2022-02-08T20:42:43Z")
        #expect(StencilaWire.date(Date(microsecondsSince1970: 1_644_352_963_000_010)) == "2022-02-08T20:42:43.000010Z")
        #expect(StencilaWire.date(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500000Z")
    }

    func page(_ query: String) -> StencilaPagination {
        StencilaPagination(baseURL: "http://h/api/tokens/", rawQuery: query)
    }

    @Test func limitAndOffsetFallBackAndAreCapped() {
        #expect((page("").limit, page("").offset) == (50, 0))
        #expect(page("limit=0").limit == 50)
        #expect(page("limit=-3").limit == 50)
        #expect(page("limit=x").limit == 50)
        #expect(page("limit=7").limit == 7)
        #expect(page("limit=1001").limit == 1000)
        #expect(page("offset=-1").offset == 0)
        #expect(page("offset=x").offset == 0)
        #expect(page("offset=9").offset == 9)
    }

    @Test func linksFollowDjangoRestFramework() {
        #expect(page("limit=2").next(count: 2) == nil)
        #expect(page("limit=2").next(count: 3) == "http://h/api/tokens/?limit=2&offset=2")
        #expect(page("limit=2").previous == nil)
        #expect(page("limit=2&offset=2").previous == "http://h/api/tokens/?limit=2")
        #expect(page("limit=2&offset=1").previous == "http://h/api/tokens/?limit=2")
        #expect(page("limit=2&offset=5").previous == "http://h/api/tokens/?limit=2&offset=3")
        #expect(page("b=1&a=x+y&limit=2").next(count: 9) == "http://h/api/tokens/?a=x+y&b=1&limit=2&offset=2")
        #expect(page("q=%C3%A9%2F&limit=1").next(count: 9) == "http://h/api/tokens/?limit=1&offset=1&q=%C3%A9%2F")
        // Python's quote_plus("a&b~+ _.-") == "a%26b~%2B+_.-"
        #expect(
            page("q=a%26b~%2B+_.-&limit=1").next(count: 9) == "http://h/api/tokens/?limit=1&offset=1&q=a%26b~%2B+_.-")
    }
}

/// The bodies that write their JSON by hand write byte for byte what their `Encodable`
/// conformances write: those stay the definition of the wire format.
@Suite("Stencila bodies written by hand")
struct StencilaHandWrittenBodyTests {
    let encoder = StreamingJSONEncoder()

    func expectSame(_ value: some JSONWritable) throws {
        var json = JSONWriter()
        value.write(to: &json)
        #expect(String(buffer: json.buffer) == String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static let names = ["", "Sam", "O\"Brien \\ \u{01}\n\t", "Émile 😀", " padded\u{00A0}"]

    @Test func me() throws {
        for (index, name) in Self.names.enumerated() {
            let user = User(
                id: Int64(index) * 1_000_000_007, username: "user\(name)", email: nil, firstName: name,
                lastName: Self.names[(index + 2) % Self.names.count], passwordHash: nil, isActive: true, isAdmin: false,
                created: Date(microsecondsSince1970: 1_644_352_963_123_456 + Int64(index)))
            try expectSame(StencilaMe(user))
        }
    }

    @Test func tokensAndPages() throws {
        let tokens = Self.names.enumerated().map { index, name in
            StencilaToken(
                Token(
                    id: Int64(index), uuid: UUID(), key: "k\(index)\(name)", ownerID: Int64.max - Int64(index),
                    title: name, kind: .app, scopes: [], created: Date(microsecondsSince1970: 1_644_352_963_000_000),
                    expires: index.isMultiple(of: 2) ? nil : Date(microsecondsSince1970: 1_744_352_963_000_001),
                    slidingLifetime: nil, lastUsed: nil, lastUsedIP: nil, digest: TokenDigest(of: "lk_\(index)"),
                    sealedSecret: nil))
        }
        for token in tokens { try expectSame(token) }
        try expectSame(StencilaTokenPage(count: 0, next: nil, previous: nil, results: []))
        try expectSame(
            StencilaTokenPage(
                count: 5, next: "http://h/api/tokens/?limit=2&offset=4", previous: "http://h/api/tokens/?limit=2",
                results: Array(tokens.prefix(2))))
        try expectSame(StencilaTokenPage(count: 5, next: nil, previous: "p\"", results: tokens))
    }
}
