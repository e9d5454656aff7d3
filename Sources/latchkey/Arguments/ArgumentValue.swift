import ArgumentParser
import Foundation

/// A value typed where it enters the CLI, from a flag or from an environment variable,
/// both through `init(parsing:)`, whose error says what is wrong with the text.
///
/// Options name it in their `transform` (`transform: Period.init(parsing:)`):
/// ArgumentParser then reports the error after the option's name, whereas a failed
/// `init?(argument:)` could only say that the value is invalid, not why.
protocol ArgumentValue: ExpressibleByArgument, Sendable {
    init(parsing text: String) throws
    /// A secret's bad value is not repeated in the error, which may reach a terminal or a log.
    static var isSecret: Bool { get }
}

extension ArgumentValue {
    static var isSecret: Bool { false }

    init?(argument: String) {
        guard let value = try? Self(parsing: argument) else { return nil }
        self = value
    }

    /// The environment variable `variable`, parsed as its flag would be; nil when it is
    /// unset or empty. A bad value fails in one line, as a bad flag does.
    static func fromEnvironment(_ variable: String) throws -> Self? {
        guard let text = environment(variable) else { return nil }
        return try parsed(text, from: variable)
    }

    /// The environment variable `variable` as a comma-separated list, each item parsed as
    /// the flag's value would be (spaces around an item are ignored); empty when unset.
    static func listFromEnvironment(_ variable: String) throws -> [Self] {
        try parsedList(environment(variable) ?? "", from: variable)
    }

    static func parsedList(_ text: String, from variable: String) throws -> [Self] {
        try text.split(separator: ",").map { item in
            try parsed(item.trimmingCharacters(in: .whitespaces), from: variable)
        }
    }

    static func parsed(_ text: String, from variable: String) throws -> Self {
        do {
            return try Self(parsing: text)
        } catch {
            // The same words as ArgumentParser's for a bad flag.
            throw CLIError("The value \(isSecret ? "given" : "'\(text)'") is invalid for \(variable): \(error)")
        }
    }
}
