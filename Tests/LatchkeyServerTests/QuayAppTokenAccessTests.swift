import Foundation
import Hummingbird
import HummingbirdTesting
import LatchkeyCore
import LatchkeyServer
import LatchkeyTestSupport
import Testing

/// Who may call Quay's app-token API, and how a call authenticates: anonymous calls, another
/// user's tokens, `$app` Basic credentials, the `user:admin` scope and administrators (with the
/// fixture, answers and calls of QuayAppTokenTests.swift).
extension QuayAppTokenTests {
    @Test("Another user's tokens are invisible", arguments: TestBackend.available)
    func anotherUsersTokensAreInvisible(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let samUUID = try await create(client, as: fixture.samSession).uuid
                let kimUUID = try await create(client, as: fixture.kimSession).uuid
                #expect(uuids(try await list(client, as: fixture.samSession)) == [samUUID])
                #expect(uuids(try await list(client, as: fixture.kimSession)) == [kimUUID])
                for method in [HTTPRequest.Method.get, .delete] {
                    try await client.execute(
                        uri: "/api/v1/user/apptoken/\(kimUUID)", method: method, headers: bearer(fixture.samSession)
                    ) {
                        response in
                        #expect(response.status == .notFound)
                        let error = try decode(QuayErrorAnswer.self, response)
                        #expect(error.errorType == "not_found")
                    }
                }
                #expect(try await fixture.services.tokens.find(uuid: UUID(uuidString: kimUUID)!) != nil)
            }
        }
    }

    @Test("Anonymous calls are 401 in Quay's error shape", arguments: TestBackend.available)
    func anonymousCallsAre401InQuaysShape(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let calls: [(String, HTTPRequest.Method)] = [
                    ("/api/v1/user/apptoken", .get), ("/api/v1/user/apptoken", .post),
                    ("/api/v1/user/apptoken/someuuid", .get), ("/api/v1/user/apptoken/someuuid", .delete),
                ]
                for (uri, method) in calls {
                    try await client.execute(uri: uri, method: method, headers: [:]) { response in
                        #expect(response.status == .unauthorized)
                        #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                        let error = try decode(QuayErrorAnswer.self, response)
                        #expect(error.detail == "Requires authentication")
                        #expect(error.errorMessage == "Requires authentication")
                        #expect(error.errorType == "invalid_token")
                        #expect(error.title == "invalid_token")
                        #expect(error.type == "http://127.0.0.1:8080/api/v1/error/invalid_token")
                        #expect(error.status == 401)
                    }
                }
                try await client.execute(uri: "/api/v1/user/apptoken", method: .get, headers: bearer("lk_not_a_token"))
                {
                    #expect($0.status == .unauthorized)
                }
            }
        }
    }

    @Test("An app token authenticates as Basic $app:<token>", arguments: TestBackend.available)
    func theAppTokenAuthenticatesAsBasicDollarApp(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let code = try #require(try await create(client, as: fixture.samSession).tokenCode)
                try await client.execute(uri: "/api/v1/user/", method: .get, headers: basic("$app", code)) { response in
                    #expect(response.status == .ok)
                    let user = try decode(QuayUserAnswer.self, response)
                    #expect(user.username == "sam")
                    #expect(user.anonymous == false)
                    #expect(user.email == "sam@example.org")
                    #expect(user.verified == true)
                }
                let wrongRest = String(code.prefix(20)) + String(repeating: "A", count: code.count - 20)
                for password in [TokenSecret.generate().value, wrongRest, "nonsense"] {
                    try await client.execute(uri: "/api/v1/user/", method: .get, headers: basic("$app", password)) {
                        #expect($0.status == .unauthorized)
                    }
                }
                try await client.execute(uri: "/api/v1/user/", method: .get, headers: basic("sam", "password")) {
                    #expect($0.status == .unauthorized, "passwords never authenticate a request")
                }
            }
        }
    }

    @Test("last_accessed records use at most once a minute", arguments: TestBackend.available)
    func lastAccessedRecordsUseAtMostOnceAMinute(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let token = try await create(
                    client, as: fixture.samSession, #"{"title": "t", "scopes": ["user:admin"]}"#)
                let code = try #require(token.tokenCode)
                let uuid = token.uuid
                // The token as sam reads it now.
                func shown() async throws -> Shaped<QuayTokenAnswer> {
                    try await client.execute(
                        uri: "/api/v1/user/apptoken/\(uuid)", method: .get, headers: bearer(fixture.samSession)
                    ) {
                        try decode(QuayTokenEnvelope.self, $0).token
                    }
                }
                #expect(try await shown().nullFields.contains("last_accessed"))
                fixture.clock.advance(by: 5)
                try await client.execute(uri: "/api/v1/user/", method: .get, headers: basic("$app", code)) {
                    #expect($0.status == .ok)
                }
                #expect(try await shown().lastAccessed == "Tue, 21 Oct 2025 19:01:04 -0000")
                fixture.clock.advance(by: 30)
                try await client.execute(uri: "/api/v1/user/", method: .get, headers: basic("$app", code)) { _ in }
                #expect(try await shown().lastAccessed == "Tue, 21 Oct 2025 19:01:04 -0000")
                fixture.clock.advance(by: 30)
                try await client.execute(uri: "/api/v1/user/apptoken", method: .get, headers: bearer(code)) {
                    #expect($0.status == .ok)
                }
                #expect(try await shown().lastAccessed == "Tue, 21 Oct 2025 19:02:04 -0000")
            }
        }
    }

    @Test("An app token needs the user:admin scope to manage tokens", arguments: TestBackend.available)
    func anAppTokenNeedsTheUserAdminScopeToManageTokens(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let plainToken = try await create(client, as: fixture.samSession)
                let adminToken = try await create(
                    client, as: fixture.samSession, #"{"title": "a", "scopes": ["user:admin"]}"#)
                let plain = try #require(plainToken.tokenCode)
                let admin = try #require(adminToken.tokenCode)
                for (uri, method) in [
                    ("/api/v1/user/apptoken", HTTPRequest.Method.get), ("/api/v1/user/apptoken", .post),
                    ("/api/v1/user/apptoken/\(UUID())", .get), ("/api/v1/user/apptoken/\(UUID())", .delete),
                ] {
                    for headers in [bearer(plain), basic("$app", plain), [.authorization: "Token \(plain)"]] {
                        try await client.execute(
                            uri: uri, method: method, headers: headers, body: ByteBuffer(string: #"{"title":"x"}"#)
                        ) {
                            response in
                            #expect(response.status == .forbidden)
                            let error = try decode(QuayErrorAnswer.self, response)
                            #expect(error.errorType == "insufficient_scope")
                            #expect(error.detail == "Unauthorized")
                        }
                    }
                }
                let created = [plainToken.uuid, adminToken.uuid]
                #expect(uuids(try await list(client, as: admin)) == created, "nothing refused was created")
                // A token never gets a scope its creator lacks.
                try await client.execute(
                    uri: "/api/v1/user/apptoken", method: .post, headers: bearer(admin),
                    body: ByteBuffer(string: #"{"title": "x", "scopes": ["user:admin", "repo:write"]}"#)
                ) { response in
                    #expect(response.status == .forbidden)
                    let error = try decode(QuayErrorAnswer.self, response)
                    #expect(error.errorType == "insufficient_scope")
                }
                _ = try await create(client, as: admin, #"{"title": "y", "scopes": ["user:admin"]}"#)
            }
        }
    }

    @Test("Administrators list everyone's tokens, without their codes", arguments: TestBackend.available)
    func administratorsListEveryonesTokensWithoutCodes(backend: TestBackend) async throws {
        try await QuayFixture.run(on: backend) { fixture in
            try await fixture.app().test(.router) { client in
                let samUUID = try await create(client, as: fixture.samSession).uuid
                let kimUUID = try await create(client, as: fixture.kimSession).uuid
                try await client.execute(
                    uri: "/api/v1/superuser/apptokens", method: .get, headers: bearer(fixture.kimSession)
                ) {
                    response in
                    #expect(response.status == .ok)
                    let tokens = try decode(QuayTokenListing.self, response).tokens
                    #expect(tokens.map { $0.uuid } == [samUUID, kimUUID])
                    #expect(tokens.compactMap { $0.owner } == ["sam", "kim"])
                    #expect(tokens.allSatisfy { !$0.fieldNames.contains("token_code") })
                }
                try await client.execute(
                    uri: "/api/v1/superuser/apptokens", method: .get, headers: bearer(fixture.samSession)
                ) {
                    #expect($0.status == .forbidden)
                }
                try await client.execute(uri: "/api/v1/superuser/apptokens", method: .get) {
                    #expect($0.status == .unauthorized)
                }
            }
        }
    }
}
