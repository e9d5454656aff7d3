import Foundation
import LatchkeyTestSupport
import Testing

/// Options that parse to typed values (durations, rates, networks, bounded numbers, URLs):
/// a bad value, by its flag or by its environment variable, fails in one line that says
/// which value, where it came from and why; good values start the server.
@Suite("CLI typed options", .removingScratchDirectories)
struct TypedOptionTests {
    /// One setting given a bad value: `command --flag value`, and `variable=value command`.
    struct BadValue: Sendable, CustomTestStringConvertible {
        var command: [String]
        var flag: String? = nil
        var variable: String? = nil
        var value: String
        var reason: String

        var testDescription: String { "\(command.joined(separator: " ")): \(flag ?? variable ?? "-") \(value)" }

        /// `serve` gets a free port, unless the port is what is being tested.
        var needsAFreePort: Bool { command == ["serve"] && flag != "--port" }
    }

    static func notADuration(_ text: String) -> String {
        "'\(text)' is not a duration: use a whole number and one of w, d, h, m, s (e.g. 30d), at most 100 years"
    }

    static func notARate(_ text: String) -> String {
        "'\(text)' is not a rate: use COUNT/DURATION, e.g. 10/15m (1 to 1000000 per 1s to 366d)"
    }

    static func notANetwork(_ text: String) -> String {
        "'\(text)' is not an IP network: use an address or ADDRESS/PREFIX, e.g. 10.0.0.0/8 or fd00::/8"
    }

    static func notAWholeNumber(from lowest: Int, to highest: Int) -> String {
        "use a whole number from \(lowest) to \(highest)"
    }

    static let badValues: [BadValue] = [
        BadValue(
            command: ["token", "create", "--user", "sam", "--title", "t"], flag: "--expires-in", value: "soon",
            reason: notADuration("soon")),
        BadValue(
            command: ["token", "create", "--user", "sam", "--title", "t"], variable: "LATCHKEY_TOKEN_LIMIT_PER_USER",
            value: "many", reason: notAWholeNumber(from: 1, to: 1_000_000)),
        BadValue(
            command: ["token", "gc"], flag: "--grace", variable: "LATCHKEY_GC_GRACE", value: "tomorrow",
            reason: notADuration("tomorrow")),
        BadValue(command: ["audit"], flag: "--since", value: "1y", reason: notADuration("1y")),
        BadValue(
            command: ["serve"], flag: "--max-token-lifetime", variable: "LATCHKEY_MAX_TOKEN_LIFETIME",
            value: "robot=1d",
            reason: "use KIND=PERIOD, where KIND is session or app, e.g. app=90d"),
        BadValue(
            command: ["serve"], flag: "--max-token-lifetime", variable: "LATCHKEY_MAX_TOKEN_LIFETIME", value: "app=1y",
            reason: notADuration("1y")),
        BadValue(command: ["audit"], flag: "--limit", value: "0", reason: notAWholeNumber(from: 1, to: 100_000)),
        BadValue(
            command: ["audit", "gc"], flag: "--retention", variable: "LATCHKEY_AUDIT_RETENTION", value: "forever",
            reason: notADuration("forever")),
        BadValue(
            command: ["serve"], flag: "--session-lifetime", variable: "LATCHKEY_SESSION_LIFETIME", value: "0d",
            reason: notADuration("0d")),
        BadValue(
            command: ["serve"], flag: "--app-token-lifetime", variable: "LATCHKEY_APP_TOKEN_LIFETIME", value: "5300w",
            reason: notADuration("5300w")),
        BadValue(
            command: ["serve"], flag: "--idle-timeout", variable: "LATCHKEY_IDLE_TIMEOUT", value: "1.5s",
            reason: notADuration("1.5s")),
        BadValue(
            command: ["serve"], flag: "--token-create-rate", variable: "LATCHKEY_TOKEN_CREATE_RATE", value: "300",
            reason: notARate("300")),
        BadValue(
            command: ["serve"], flag: "--signin-limit-account", variable: "LATCHKEY_SIGNIN_LIMIT_ACCOUNT",
            value: "0/15m", reason: notARate("0/15m")),
        BadValue(
            command: ["serve"], flag: "--leak-report-rate", variable: "LATCHKEY_LEAK_REPORT_RATE", value: "10/400d",
            reason: notARate("10/400d")),
        BadValue(
            command: ["serve"], flag: "--trusted-proxy", variable: "LATCHKEY_TRUSTED_PROXIES", value: "10.0.0.0/33",
            reason: notANetwork("10.0.0.0/33")),
        BadValue(
            command: ["serve"], flag: "--port", variable: "LATCHKEY_PORT", value: "70000",
            reason: notAWholeNumber(from: 0, to: 65_535)),
        BadValue(
            command: ["serve"], flag: "--token-limit-per-user", variable: "LATCHKEY_TOKEN_LIMIT_PER_USER", value: "0",
            reason: notAWholeNumber(from: 1, to: 1_000_000)),
        BadValue(
            command: ["serve"], flag: "--password-workers", value: "0", reason: notAWholeNumber(from: 1, to: 1_000_000)),
        BadValue(
            command: ["serve"], flag: "--password-queue", value: "lots", reason: notAWholeNumber(from: 0, to: 1_000_000)
        ),
        BadValue(
            command: ["serve"], flag: "--max-rotation-overlap", variable: "LATCHKEY_MAX_ROTATION_OVERLAP",
            value: "forever", reason: notADuration("forever")),
        BadValue(
            command: ["serve"], flag: "--on-reuse", variable: "LATCHKEY_ON_REUSE", value: "maybe",
            reason: "use notify or revoke-family"),
        BadValue(
            command: ["token", "rotate", "00000000-0000-0000-0000-000000000000"], flag: "--overlap", value: "0s",
            reason: notADuration("0s")),
        BadValue(
            command: ["token", "rotate", "00000000-0000-0000-0000-000000000000"],
            variable: "LATCHKEY_MAX_ROTATION_OVERLAP", value: "forever", reason: notADuration("forever")),
        BadValue(
            command: ["serve"], flag: "--public-url", variable: "LATCHKEY_PUBLIC_URL", value: "ftp://x.example",
            reason:
                "use an http or https URL with a host and nothing after its path, e.g. https://tokens.example.org"),
    ]

    @Test(arguments: TypedOptionTests.badValues)
    func aBadValueFailsInOneLineNamingItsSource(_ bad: BadValue) throws {
        let database = try makeScratchDirectory().appendingPathComponent("x.db").path
        #expect(try runLatchkey(["user", "create", "sam", "--no-password", "--database", database]).status == 0)
        var arguments = bad.command + ["--database", database]
        if bad.needsAFreePort { arguments += ["--port", "\(try freePort())"] }
        #expect(bad.flag != nil || bad.variable != nil, "a case tests a flag, a variable or both")
        if let flag = bad.flag {
            expectOneLineFailure(
                try runLatchkey(arguments + [flag, bad.value]),
                "The value '\(bad.value)' is invalid for '\(flag) <\(flag.dropFirst(2))>': \(bad.reason)")
        }
        if let variable = bad.variable {
            expectOneLineFailure(
                try runLatchkey(arguments, environment: [variable: bad.value]),
                "The value '\(bad.value)' is invalid for \(variable): \(bad.reason)")
        }
    }

    @Test func aBadItemOfTheTrustedProxyListIsNamed() throws {
        let database = try makeScratchDirectory().appendingPathComponent("x.db").path
        expectOneLineFailure(
            try runLatchkey(
                ["serve", "--port", "\(try freePort())", "--database", database],
                environment: ["LATCHKEY_TRUSTED_PROXIES": "10.0.0.1, proxy.local"]),
            "The value 'proxy.local' is invalid for LATCHKEY_TRUSTED_PROXIES: \(Self.notANetwork("proxy.local"))")
    }

    @Test func postgresWithoutASharedServerKeyIsRefusedInOneLine() throws {
        // A cross-option rule (`validate`): nothing needs to answer on port 1.
        expectOneLineFailure(
            try runLatchkey(
                ["serve", "--port", "\(try freePort())", "--database", "postgres://latchkey@127.0.0.1:1/latchkey"]),
            "on PostgreSQL every node needs the same server key: set LATCHKEY_SERVER_KEY to base64 of 32 bytes (openssl rand -base64 32), or start with --no-recoverable-tokens"
        )
    }

    @Test func goodValuesFromFlagsAndTheEnvironmentStartTheServer() async throws {
        let server = try ServerProcess(
            arguments: [
                "--session-lifetime", "2h", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "fd00::/8",
                "--signin-limit-account", "3/15m", "--token-limit-per-user", "5", "--password-queue", "0",
                "--on-reuse", "revoke-family",
            ],
            environment: [
                "LATCHKEY_APP_TOKEN_LIFETIME": "30d", "LATCHKEY_TOKEN_CREATE_RATE": "5/1m",
                "LATCHKEY_PUBLIC_URL": "https://tokens.example.org", "LATCHKEY_PASSWORD_WORKERS": "2",
                "LATCHKEY_AUDIT_RETENTION": "30d", "LATCHKEY_MAX_ROTATION_OVERLAP": "1d",
            ],
            in: try makeScratchDirectory())
        #expect(await server.waitUntilListening(), "\(server.printed)")
        #expect(server.stop() == 0)
    }
}
