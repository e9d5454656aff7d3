import Foundation
import LatchkeyCore
import LatchkeyStore
import LatchkeyTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("latchkey serve", .removingScratchDirectories)
struct ServeTests {
    @Test func firstStartCreatesAnAdminServesAndStopsCleanlyOnSIGTERM() async throws {
        let directory = try makeScratchDirectory()
        let server = try ServerProcess(arguments: [], in: directory)
        #expect(await server.waitUntilListening(), "\(server.printed)")

        let health = try await httpRequest(server.baseURL.appendingPathComponent("healthz"))
        #expect(health.status == 200)
        let ready = try await httpRequest(server.baseURL.appendingPathComponent("readyz"))
        #expect(ready.status == 200)

        #expect(server.stop() == 0, "graceful shutdown exits 0")
        let printed = server.printed
        let password = try #require(printed.firstMatch(of: /password "([A-Za-z0-9]+)"/)?.1)
        let storage = try SQLiteStorage(path: directory.appendingPathComponent("latchkey.db").path)
        let admin = try #require(
            try await AccountService(storage: storage).authenticate(
                login: "admin", password: String(password), by: .cli))
        #expect(admin.isAdmin)

        let keyFile = directory.appendingPathComponent("latchkey.db.key").path
        let attributes = try FileManager.default.attributesOfItem(atPath: keyFile)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)

        // A second start finds the admin and creates no other.
        let again = try ServerProcess(arguments: [], in: directory)
        #expect(await again.waitUntilListening())
        #expect(again.stop() == 0)
        #expect(!again.printed.contains("Created the first account"))
        #expect(try await storage.userCount() == 1)
    }

    @Test func aPortInUseFailsInOneLine() throws {
        let directory = try makeScratchDirectory()
        let taken = try ListeningSocket()
        defer { taken.close() }
        let result = try runLatchkey(
            ["serve", "--port", "\(taken.port)", "--database", directory.appendingPathComponent("x.db").path])
        #expect(result.status != 0)
        #expect(
            result.stderr.hasSuffix(
                "latchkey: cannot listen on 127.0.0.1:\(taken.port): the address is already in use\n"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func incompleteOpenIDConnectSettingsFailInOneLine() throws {
        let database = try makeScratchDirectory().appendingPathComponent("x.db").path
        var result = try runLatchkey(
            ["serve", "--port", "\(try freePort())", "--database", database],
            environment: ["LATCHKEY_OIDC_ISSUER": "https://id.example.org"])
        #expect(result.status != 0)
        #expect(
            result.stderr == "latchkey: LATCHKEY_OIDC_AUDIENCES must name at least one audience (comma-separated)\n")
        result = try runLatchkey(
            ["serve", "--port", "\(try freePort())", "--database", database, "--oidc-providers", "/nonexistent.json"])
        #expect(
            result.stderr
                == "latchkey: cannot read the OpenID Connect providers file /nonexistent.json: it must be a JSON list of providers\n"
        )
    }

    @Test func aKeyFileOthersCanReadStopsTheStartInOneLine() throws {
        let directory = try makeScratchDirectory()
        let database = directory.appendingPathComponent("x.db").path
        let keyFile = database + ".key"
        let key = Data(repeating: 7, count: 32).base64EncodedString()
        #expect(
            FileManager.default.createFile(
                atPath: keyFile, contents: Data(key.utf8), attributes: [.posixPermissions: 0o644]))
        let result = try runLatchkey(["serve", "--port", "\(try freePort())", "--database", database])
        #expect(result.status != 0)
        #expect(
            result.stderr
                == "latchkey: the server key file \(keyFile) is readable by group or others; make it private with: chmod 600 \(keyFile)\n"
        )
    }

    @Test func aPublicURLThatIsNotAnHTTPURLFailsInOneLine() throws {
        let database = try makeScratchDirectory().appendingPathComponent("x.db").path
        for bad in ["tokens.example.org", "ftp://x.example", "https://x.example/?q=1", "https://user@x.example"] {
            expectOneLineFailure(
                try runLatchkey(["serve", "--port", "\(try freePort())", "--database", database, "--public-url", bad]),
                "The value '\(bad)' is invalid for '--public-url <public-url>': use an http or https URL with a host and nothing after its path, e.g. https://tokens.example.org"
            )
        }
    }

    @Test func aConnectionThatSendsNothingMoreIsClosedAfterTheIdleTimeout() async throws {
        let server = try ServerProcess(arguments: ["--idle-timeout", "1s"], in: try makeScratchDirectory())
        #expect(await server.waitUntilListening(), "\(server.printed)")
        defer { _ = server.stop() }
        // Half a request, then silence: the server must not hold the connection forever.
        let started = ContinuousClock.now
        let closed = try readUntilClosed(port: server.port, sending: "GET /healthz HTTP/1.1\r\nHost: x\r\n", within: 15)
        #expect(closed, "the server kept an idle connection open for 15 s")
        #expect(ContinuousClock.now - started < .seconds(15))
    }
}

extension ServeTests {
    /// A head that never ends (each trickled byte lengthens a header's value), and a body.
    @Test(arguments: [
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a",
        "POST /api/tokens/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
    ])
    func aRequestTrickledSlowerThanTheRequestTimeoutIsCutOff(start: String) async throws {
        let server = try ServerProcess(
            arguments: ["--idle-timeout", "60s", "--request-timeout", "2s"], in: try makeScratchDirectory())
        #expect(await server.waitUntilListening(), "\(server.printed)")
        defer { _ = server.stop() }
        let started = ContinuousClock.now
        let closed = try readUntilClosed(port: server.port, sending: start, within: 20, tricklingEvery: true)
        #expect(closed, "a request trickled a byte at a time held the connection for 20 s")
        #expect(ContinuousClock.now - started < .seconds(15))
    }
}

/// Connects, sends `text`, and reads until the server closes the connection (true) or
/// `seconds` pass (false).
/// With `tricklingEvery`, one more byte follows after each second without an answer.
private func readUntilClosed(
    port: Int, sending text: String, within seconds: Int, tricklingEvery: Bool = false
) throws -> Bool {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    let connected = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
    guard connected else { throw POSIXError(.ECONNREFUSED) }
    _ = text.withCString { send(descriptor, $0, strlen($0), 0) }
    var timeout = timeval(tv_sec: 1, tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let deadline = ContinuousClock.now + .seconds(seconds)
    var buffer = [UInt8](repeating: 0, count: 4096)
    while ContinuousClock.now < deadline {
        let count = recv(descriptor, &buffer, buffer.count, 0)
        if count == 0 { return true }
        if count < 0, errno != EAGAIN, errno != EWOULDBLOCK { return true }  // reset: closed too
        if tricklingEvery { _ = " ".withCString { send(descriptor, $0, 1, Int32(MSG_NOSIGNAL)) } }
    }
    return false

}
