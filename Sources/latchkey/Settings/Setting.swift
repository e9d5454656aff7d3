import ArgumentParser

/// One setting: its flag, its environment variable, its default and its help, in one place
/// (`ServerSettings` lists them). The value's type parses it, from the flag or the variable
/// alike (`ArgumentValue`); the flag wins over the variable (which `serve` still checks, so
/// that a bad one is never left unnoticed: `ServerSettings.checkEnvironment`).
struct Setting<Value: ArgumentValue>: Sendable {
    /// The long flag without its dashes (`session-lifetime`); nil: only the variable (a secret,
    /// which a command line would show to everyone on the machine).
    let flag: String?
    let variable: String
    /// Written as the flag's value would be (`"7d"`, `"10/15m"`); nil: unset means none.
    let fallback: String?
    /// What the help says of the default, when it is not a value (`the core count`).
    let fallbackHelp: String?
    /// What the setting does, for `--help`; the variable and the default are added to it.
    let about: String

    init(
        _ flag: String?, _ variable: String, default fallback: String? = nil, defaultHelp: String? = nil,
        _ about: String
    ) {
        self.flag = flag
        self.variable = variable
        self.fallback = fallback
        fallbackHelp = defaultHelp
        self.about = about
    }

    var name: NameSpecification { .customLong(flag ?? variable) }

    /// `about`, then where else it can be given and its default.
    var help: ArgumentHelp { help(about: about) }

    /// The help of a command's own option for this setting, which says what it does in that
    /// command's words (`token gc --grace`), the variable and default still the table's.
    func help(about: String) -> ArgumentHelp {
        ArgumentHelp("\(about) (env \(variable); default\((fallbackHelp ?? fallback).map { " \($0)" } ?? ": none")).")
    }

    /// The flag's value, else the variable's, else the default; nil when none is given.
    func value(_ flag: Value? = nil) throws -> Value? {
        if let flag { return flag }
        if let fromEnvironment = try Value.fromEnvironment(variable) { return fromEnvironment }
        return try fallback.map(Value.init(parsing:))
    }

    /// The value of a setting that has a default.
    func resolved(_ flag: Value? = nil) throws -> Value {
        guard let value = try value(flag) else { preconditionFailure("\(variable) has no default") }
        return value
    }
}

/// A setting given several times (`--trusted-proxy A --trusted-proxy B`), or as a
/// comma-separated list in its variable.
struct ListSetting<Value: ArgumentValue>: Sendable {
    /// Never nil (a list is given by repeating its flag); optional as `AnySetting` says a flag is.
    let flag: String?
    let variable: String
    let about: String

    init(_ flag: String, _ variable: String, _ about: String) {
        self.flag = flag
        self.variable = variable
        self.about = about
    }

    var name: NameSpecification { .customLong(flag ?? variable) }
    var help: ArgumentHelp {
        ArgumentHelp("\(about); repeat for several (env \(variable), comma-separated; default: none).")
    }

    /// The flags' values, else the variable's items; empty when neither is given.
    func values(_ flags: [Value] = []) throws -> [Value] {
        flags.isEmpty ? try Value.listFromEnvironment(variable) : flags
    }
}

/// An on/off setting: a flag that turns it from its default, or the variable, which reads
/// true/false, 1/0, yes/no or on/off.
struct Switch: Sendable {
    let flag: String?
    let variable: String
    let isOnByDefault: Bool
    let about: String

    init(_ flag: String?, _ variable: String, onByDefault: Bool = false, _ about: String) {
        self.flag = flag
        self.variable = variable
        isOnByDefault = onByDefault
        self.about = about
    }

    var name: NameSpecification { .customLong(flag ?? variable) }
    var help: ArgumentHelp {
        ArgumentHelp("\(about) (env \(variable)=\(isOnByDefault ? "false" : "true")).")
    }

    /// Whether it is on: turned from its default by the flag, else as the variable says.
    func isOn(flagGiven: Bool = false) throws -> Bool {
        if flagGiven { return !isOnByDefault }
        return try environmentFlag(variable) ?? isOnByDefault
    }
}

/// What every kind of setting can say of itself, for the checks that go through them all
/// (a bad value at start, and the documentation's table of settings, which must not drift).
protocol AnySetting: Sendable {
    /// The long flag without its dashes; nil: only the variable.
    var flag: String? { get }
    var variable: String { get }
    /// The default as the documentation's table shows it: a value, or words where it is not one.
    var defaultShown: String { get }
    /// Throws the one-line error a bad value gives, when `text` is not one.
    func check(_ text: String) throws
}

extension Setting: AnySetting {
    var defaultShown: String { fallbackHelp ?? fallback ?? "none" }
    func check(_ text: String) throws { _ = try Value.parsed(text, from: variable) }
}

extension ListSetting: AnySetting {
    var defaultShown: String { "none" }
    func check(_ text: String) throws { _ = try Value.parsedList(text, from: variable) }
}

extension Switch: AnySetting {
    var defaultShown: String { isOnByDefault ? "on" : "off" }
    func check(_ text: String) throws { _ = try parsedFlag(text, from: variable) }
}
