import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import Testing

/// Stencila Hub's token API, continued: deleting tokens, `/api/users/me`, and credentials it cannot read.
extension StencilaDialectTests {
    @Test("Deleting a token is 204, and it no longer authenticates", arguments: TestBackend.available)
    func deletingATokenIs204AndItNoLongerAuthenticates(backend: TestBackend) async throws {
        try await StencilaFixture.run(on: backend) { fixture, client in
            var created: [HubCreatedToken] = []
            for _ in 0..<3 { created.append(try await fixture.signIn(client)) }
            let (first, second, third) = (created[0], created[1], created[2])

            // By its secret, with no other credentials.
            let deleted = try await sendToHub(client, "/api/tokens/\(first.token)/", method: .delete)
            #expect(deleted.status == .noContent)
            #expect(deleted.body.readableBytes == 0)
            try expectHubError(
                try await sendToHub(client, "/api/users/me", headers: hubTokenHeader(first.token)), .forbidden,
                "Invalid token."
            )
            try expectHubError(try await sendToHub(client, "/api/tokens/\(first.token)/"), .notFound, "Not found.")
            try expectHubError(
                try await sendToHub(client, "/api/tokens/\(first.token)/", method: .delete), .notFound, "Not found.")

            // By its id, by its owner.
            let byID = try await sendToHub(
                client, "/api/tokens/\(second.id)/", method: .delete, headers: hubTokenHeader(third.token))
            #expect(byID.status == .noContent)
            #expect(byID.body.readableBytes == 0)
            try expectHubError(
                try await sendToHub(client, "/api/users/me", headers: hubTokenHeader(second.token)), .forbidden,
                "Invalid token.")

            // Nobody else's id, and no id without credentials.
            let kims = try await fixture.services.tokens.create(
                for: fixture.kim, TokenRequest(kind: .session, expiry: .sliding(86_400)), by: .cli)
            for headers in [hubTokenHeader(kims.secret.value), [:]] {
                try expectHubError(
                    try await sendToHub(client, "/api/tokens/\(third.id)/", method: .delete, headers: headers),
                    .notFound,
                    "Not found.")
            }
            try expectHubError(
                try await sendToHub(client, "/api/tokens/foo/", method: .delete), .notFound, "Not found.")

            let left = try await sendToHub(client, "/api/tokens/", headers: hubTokenHeader(third.token))
            #expect(
                try decodeHub(HubTokenPage.self, left)
                    == HubTokenPage(
                        count: 1, next: nil, previous: nil,
                        results: [
                            HubToken(user: third.user, id: third.id, created: third.created, expiry: third.expiry)
                        ]
                    ))
        }
    }

    @Test("/api/users/me names the token's user, for Token and Basic credentials", arguments: TestBackend.available)
    func usersMeNamesTheTokensUser(backend: TestBackend) async throws {
        try await StencilaFixture.run(on: backend) { fixture, client in
            let session = try await fixture.signIn(client)
            let sam = HubMe(
                id: fixture.sam.id, username: "sam", firstName: "Sam", lastName: "Tester", displayName: "Sam Tester",
                personalAccount: .init(id: fixture.sam.id, tier: 1), dateJoined: "2027-01-15T08:00:00.250000Z",
                lastLogin: nil, emailAddresses: [], linkedAccounts: [])
            for authorization in [
                "Token \(session.token)", "token \(session.token)", "TOKEN  \(session.token)",
                hubBasicHeader("\(session.token):"), hubBasicHeader(session.token),
            ] {
                let response = try await sendToHub(client, "/api/users/me", headers: [.authorization: authorization])
                #expect(response.status == .ok, "\(authorization.prefix(6))")
                #expect(
                    try hubKeys(response) == [
                        "id", "username", "firstName", "lastName", "displayName", "personalAccount", "dateJoined",
                        "lastLogin", "emailAddresses", "linkedAccounts",
                    ])
                #expect(try decodeHub(HubMe.self, response) == sam, "\(authorization.prefix(6))")
            }
            try expectHubError(
                try await sendToHub(client, "/api/users/me"), .forbidden,
                "Authentication credentials were not provided.")

            let kims = try await fixture.services.tokens.create(
                for: fixture.kim, TokenRequest(kind: .session, expiry: .sliding(86_400)), by: .cli)
            try await fixture.services.accounts.setActive(fixture.kim, false, by: .cli)
            try expectHubError(
                try await sendToHub(client, "/api/users/me", headers: hubTokenHeader(kims.secret.value)), .forbidden,
                "User inactive or deleted.")
        }
    }

    @Test(
        "Unreadable or invalid Authorization headers are 403 with knox's messages, everywhere",
        arguments: TestBackend.available)
    func unreadableAuthorizationHeadersAre403Everywhere(backend: TestBackend) async throws {
        try await StencilaFixture.run(on: backend) { fixture, client in
            let failures: [(authorization: String, message: String)] = [
                ("Token", "Invalid token header. No credentials provided."),
                ("Token a b", "Invalid token header. Token string should not contain spaces."),
                ("Token fake-token", "Invalid token."),
                ("Token \(TokenSecret.generate().value)", "Invalid token."),
                ("Basic", "Invalid Basic authorization header. No credentials provided."),
                ("Basic a b", "Invalid Basic authorization header. Credentials string should not contain spaces."),
                ("Basic //////", "Invalid Basic authorization header. Credentials not correctly base64 encoded."),
                (
                    hubBasicHeader("username:password"),
                    "Basic authorization with a password is not allowed; use an API token instead."
                ),
                (hubBasicHeader("fake-token"), "Invalid token."),
            ]
            let signIn = #"{"username": "sam", "password": "sam-password"}"#
            for (authorization, message) in failures {
                let headers: HTTPFields = [.authorization: authorization]
                // Even where no authentication is needed: signing in, retrieving by secret.
                try expectHubError(
                    try await fixture.post(client, signIn, headers: headers), .forbidden, message)
                try expectHubError(
                    try await sendToHub(client, "/api/tokens/\(TokenSecret.generate().value)/", headers: headers),
                    .forbidden, message)
                try expectHubError(try await sendToHub(client, "/api/tokens/", headers: headers), .forbidden, message)
                try expectHubError(try await sendToHub(client, "/api/users/me", headers: headers), .forbidden, message)
            }
            #expect(try await fixture.services.tokens.count(TokenQuery()) == 0)
        }
    }

    @Test("Other methods are 405 with Allow", arguments: TestBackend.available)
    func otherMethodsAre405WithAllow(backend: TestBackend) async throws {
        try await StencilaFixture.run(on: backend) { fixture, client in
            let id = try await fixture.signIn(client).id
            let refusals: [(uri: String, method: HTTPRequest.Method, allow: String)] = [
                ("/api/tokens/", .put, "GET, POST"), ("/api/tokens/", .delete, "GET, POST"),
                ("/api/tokens", .patch, "GET, POST"),
                ("/api/tokens/\(id)/", .put, "GET, DELETE"), ("/api/tokens/\(id)/", .post, "GET, DELETE"),
                ("/api/tokens/\(id)/", .patch, "GET, DELETE"),
                ("/api/users/me", .post, "GET"), ("/api/users/me", .delete, "GET"),
            ]
            for refusal in refusals {
                let response = try await sendToHub(client, refusal.uri, method: refusal.method)
                try expectHubError(
                    response, .methodNotAllowed, "Method \"\(refusal.method.rawValue)\" not allowed.")
                #expect(response.headers[.allow] == refusal.allow, "\(refusal.method) \(refusal.uri)")
            }
        }
    }
}
