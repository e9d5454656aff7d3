import ArgumentParser
import Foundation
import LatchkeyServer
import Logging
import NIOCore
import NIOPosix

@main
struct Latchkey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latchkey",
        abstract: "An API-token service: sign-in, long-lived tokens, verification.",
        subcommands: [
            ServeCommand.self, UserCommand.self, TokenCommand.self, ClientCommand.self, AuditCommand.self,
            WebhookCommand.self,
        ]
    )

    /// Like ArgumentParser's own entry point, except that a failure is reported as
    /// one line on stderr (no usage dump, no trace) with a non-zero exit.
    static func main() async {
        // Every log line of every command passes through secret redaction, and is written
        // off the thread that logged it.
        LoggingSystem.bootstrap { label in
            SecretRedactingLogHandler(LineLogHandler(label: label))
        }
        do {
            var command = try parseAsRoot()
            if command is ServeCommand {
                // Swift concurrency's jobs run on the event loops, so a request no longer hops
                // from the loop that read it to the cooperative pool and back (a futex wake each
                // way). NIO requires this once, on the main thread, before any job is queued:
                // here, before the first `await`. Nothing in the server blocks a task: password
                // hashing has threads of its own (`PasswordWorkerPool`), GRDB its queues, the
                // log a writer thread that never makes a caller wait.
                if !NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() {
                    Logger(label: "latchkey").warning(
                        "Swift concurrency keeps its own threads: requests hop between them and the event loops")
                }
            }
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))  // --help, --version
            } else {
                let message = message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "failed"
                FileHandle.standardError.write(Data("latchkey: \(message)\n".utf8))
            }
            Foundation.exit(code.rawValue)
        }
    }
}
