import Foundation

/// Reads an environment variable; empty counts as unset.
func environment(_ name: String) -> String? {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
    return value
}

/// An on/off environment variable; nil when unset.
func environmentFlag(_ variable: String) throws -> Bool? {
    try environment(variable).map { try parsedFlag($0, from: variable) }
}

/// true/false, 1/0, yes/no or on/off, in any case; anything else fails in one line.
func parsedFlag(_ text: String, from variable: String) throws -> Bool {
    switch text.lowercased() {
    case "false", "0", "no", "off": return false
    case "true", "1", "yes", "on": return true
    default: throw CLIError("\(variable) must be true or false, not '\(text)'")
    }
}
