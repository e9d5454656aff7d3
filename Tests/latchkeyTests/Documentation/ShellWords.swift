/// Splits one line of shell into its simple commands' words, as sh would pass them to each
/// program: far enough to find what a documented `latchkey …` is given. Quotes and backslashes
/// are removed; a `#` that starts a word begins a comment; `|`, `||`, `&&`, `;`, `&` and
/// parentheses separate commands; a redirection (`> file`, `2>&1`) is dropped with its target;
/// the commands inside `$( … )` are commands of their own, while the word holding them keeps
/// the text as written. Nothing is expanded: `$TOKEN` stays `$TOKEN`, `*` stays `*`.
/// An unclosed quote runs to the end of the line, so a page's prose-like output never fails.
enum ShellWords {
    static func commands(in line: String) -> [[String]] {
        var lexer = ShellLexer(characters: Array(line))
        lexer.readCommands(insideSubstitution: false)
        return lexer.commands
    }
}

/// The command being read: its finished words, and the word under way.
private struct PendingCommand {
    var words: [String] = []
    var word = ""
    /// Whether a word is under way: a quoted empty string (`''`) is a word too.
    var inWord = false
    /// After a redirection operator, whose target is not an argument.
    var dropsNextWord = false

    mutating func append(_ character: Character) {
        word.append(character)
        inWord = true
    }

    mutating func append(_ text: String) {
        word += text
        inWord = true
    }

    mutating func endWord() {
        if inWord {
            if dropsNextWord {
                dropsNextWord = false
            } else {
                words.append(word)
            }
        }
        word = ""
        inWord = false
    }

    mutating func end(into commands: inout [[String]]) {
        endWord()
        if !words.isEmpty { commands.append(words) }
        words = []
        dropsNextWord = false
    }
}

private struct ShellLexer {
    let characters: [Character]
    var index = 0
    /// Finished simple commands; those inside `$( … )` come before the command that holds them.
    var commands: [[String]] = []

    var current: Character? { index < characters.count ? characters[index] : nil }
    var next: Character? { index + 1 < characters.count ? characters[index + 1] : nil }

    /// Reads commands to the end of the line or, inside `$(`, through the `)` that closes it.
    mutating func readCommands(insideSubstitution: Bool) {
        var command = PendingCommand()
        // Parentheses opened since `$(` (a subshell inside it), so that theirs is not taken for its `)`.
        var depth = 0
        while let character = current {
            switch character {
            case "\\":
                if let escaped = next { command.append(escaped) }
                index += 2
            case " ", "\t", "\n":
                command.endWord()
                index += 1
            case "#" where !command.inWord:
                index = characters.count
            case "'":
                index += 1
                command.append("")
                while let quoted = current, quoted != "'" {
                    command.append(quoted)
                    index += 1
                }
                index += 1
            case "\"":
                index += 1
                command.append("")
                readDoubleQuoted(into: &command)
            case "$" where next == "(":
                command.append(readSubstitution())
            case "&" where next == ">", ">", "<":
                readRedirection(into: &command)
            case "|", ";", "&":
                command.end(into: &commands)
                index += 1
                if current == character { index += 1 }  // `||`, `&&`, `;;`
            case "(":
                command.end(into: &commands)
                depth += 1
                index += 1
            case ")":
                command.end(into: &commands)
                index += 1
                if insideSubstitution && depth == 0 { return }
                depth = max(0, depth - 1)
            default:
                command.append(character)
                index += 1
            }
        }
        command.end(into: &commands)
    }

    /// Reads `$( … )` from its `$`; returns it as written, for the word that holds it.
    private mutating func readSubstitution() -> String {
        let start = index
        index += 2
        readCommands(insideSubstitution: true)
        return String(characters[start..<min(index, characters.count)])
    }

    /// Reads up to the closing `"`: there a backslash escapes only `"`, `\`, `$` and a backtick,
    /// and `$( … )` still runs a command.
    private mutating func readDoubleQuoted(into command: inout PendingCommand) {
        while let character = current, character != "\"" {
            if character == "\\", let escaped = next, "\"\\$`".contains(escaped) {
                command.append(escaped)
                index += 2
            } else if character == "$" && next == "(" {
                command.append(readSubstitution())
            } else {
                command.append(character)
                index += 1
            }
        }
        index += 1
    }

    /// Reads an operator such as `>`, `>>`, `2>&1`, `&>`, `<` or `<<`; the next word is its target.
    private mutating func readRedirection(into command: inout PendingCommand) {
        // Digits written right against the operator (`2>`) name a file descriptor, not an argument.
        if command.inWord && !command.word.isEmpty && command.word.allSatisfy(\.isWholeNumber) {
            command.word = ""
            command.inWord = false
        } else {
            command.endWord()
        }
        index += 1
        while let character = current, character == ">" || character == "<" || character == "&" || character == "|" {
            index += 1
        }
        command.dropsNextWord = true
    }
}
