import Foundation
import LatchkeyTestSupport
import Testing

@testable import latchkey

/// Every server setting is one row of `ServerSettings`: `serve` reads each variable through it,
/// so that an unreadable value of any of them (LOG_LEVEL and LATCHKEY_RECOVERABLE_TOKENS
/// included, which once fell back quietly) stops the start in one line that names it and says
/// what it accepts.
@Suite("One settings table", .removingScratchDirectories)
struct SettingsTableTests {
    /// Text that no typed setting reads.
    static let nonsense = "¿nonsense?"

    /// The variables whose type can refuse a value (free text, such as a host, cannot).
    static let typedVariables = ServerSettings.all.filter { (try? $0.check(nonsense)) == nil }.map(\.variable)

    @Test func theTableNamesEachVariableOnceAndTypesTheOnesThatOnceFellBack() {
        let variables = ServerSettings.all.map(\.variable)
        #expect(Set(variables).count == variables.count)
        for variable in ["LOG_LEVEL", "LATCHKEY_RECOVERABLE_TOKENS", "LATCHKEY_SERVER_KEY", "LATCHKEY_PORT"] {
            #expect(Self.typedVariables.contains(variable), "\(variable)")
        }
    }

    @Test(arguments: SettingsTableTests.typedVariables)
    func anUnreadableValueStopsServeInOneLineNamingTheVariable(variable: String) throws {
        let setting = try #require(ServerSettings.all.first { $0.variable == variable })
        let refusal = #expect(throws: (any Error).self) { try setting.check(Self.nonsense) }
        let message = "\(try #require(refusal))"
        #expect(message.contains(variable))
        let database = try makeScratchDirectory().appendingPathComponent("x.db").path
        // A flag for the port as well: the variable is read, and refused, even where a flag wins.
        expectOneLineFailure(
            try runLatchkey(
                ["serve", "--port", "\(try freePort())", "--database", database],
                environment: [variable: Self.nonsense]),
            message)
    }

    @Test func aBadLogLevelSaysWhichLevelsThereAre() throws {
        let database = try makeScratchDirectory().appendingPathComponent("x.db").path
        expectOneLineFailure(
            try runLatchkey(["serve", "--database", database], environment: ["LOG_LEVEL": "verbose"]),
            "The value 'verbose' is invalid for LOG_LEVEL: use trace, debug, info, notice, warning, error, critical")
    }

    @Test func aBadServerKeyIsNotRepeated() throws {
        let database = try makeScratchDirectory().appendingPathComponent("x.db").path
        let result = try runLatchkey(
            ["serve", "--database", database], environment: ["LATCHKEY_SERVER_KEY": "not-the-key-but-close"])
        expectOneLineFailure(
            result,
            "The value given is invalid for LATCHKEY_SERVER_KEY: the server key must be 32 bytes in base64 (generate one with: openssl rand -base64 32)"
        )
        #expect(!result.stderr.contains("not-the-key-but-close"))
    }

    @Test func serveHelpShowsEachFlagWithItsVariable() throws {
        let help = try runLatchkey(["serve", "--help"]).stdout.replacingOccurrences(of: "\n", with: " ")
            .split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for (flag, variable) in [
            ("--log-level", "LOG_LEVEL"), ("--session-lifetime", "LATCHKEY_SESSION_LIFETIME"),
            ("--trusted-proxy", "LATCHKEY_TRUSTED_PROXIES"), ("--no-recoverable-tokens", "LATCHKEY_RECOVERABLE_TOKENS"),
            ("--database", "LATCHKEY_DATABASE"),
        ] {
            #expect(help.contains(flag), "\(flag)")
            #expect(help.contains("env \(variable)"), "\(variable)")
        }
        #expect(!help.contains("LATCHKEY_SERVER_KEY (env"), "a secret has no flag")
    }
}
