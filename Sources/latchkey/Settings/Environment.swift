import Foundation

/// Reads an environment variable; empty counts as unset.
func environment(_ name: String) -> String? {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
    return value
}

/// An on/off environment variable: off when unset; anything but true/false, 1/0, yes/no,
/// on/off fails in one line.
func environmentFlag(_ variable: String) throws -> Bool {
    switch environment(variable)?.lowercased() {
    case nil, "false", "0", "no", "off": return false
    case "true", "1", "yes", "on": return true
    case let other?: throw CLIError("\(variable) must be true or false, not '\(other)'")
    }
}

/// A repeatable flag's values, else the environment variable's comma-separated list.
func setting<Value: ArgumentValue>(_ flags: [Value], _ variable: String) throws -> [Value] {
    flags.isEmpty ? try Value.listFromEnvironment(variable) : flags
}

/// A setting given by a flag or an environment variable: the flag wins (the variable is
/// then not read); nil when neither is given.
func setting<Value: ArgumentValue>(_ flag: Value?, _ variable: String) throws -> Value? {
    if let flag { return flag }
    return try Value.fromEnvironment(variable)
}

/// A setting given by a flag, else an environment variable, else `fallback`, written as
/// the flag's value would be (`"7d"`, `"10/15m"`).
func setting<Value: ArgumentValue>(_ flag: Value?, _ variable: String, default fallback: String) throws -> Value {
    try setting(flag, variable) ?? Value(parsing: fallback)
}
