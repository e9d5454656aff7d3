import Foundation

/// Reads an environment variable; empty counts as unset.
func environment(_ name: String) -> String? {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
    return value
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
