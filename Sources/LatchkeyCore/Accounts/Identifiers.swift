import Foundation

/// How usernames and emails are compared: two spellings that a person cannot tell
/// apart, or that differ only in case, are the same name. NFKC makes compatibility
/// forms one (fullwidth `Ａ` is `A`, the Kelvin sign `K` is `K`, a decomposed `é`
/// is the composed one); Unicode case folding makes case one (`ß` is `ss`).
public enum Identifier {
    /// NFKC, for storing a name as it is shown.
    public static func normalized(_ text: String) -> String {
        text.precomposedStringWithCompatibilityMapping
    }

    /// NFKC case-fold (NFKC, full case folding, NFKC again): what uniqueness and look-ups compare.
    public static func folded(_ text: String) -> String {
        normalized(normalized(text).folding(options: [.caseInsensitive], locale: nil))
    }

    /// An email address folded for comparison: the local part by NFKC case-fold, the domain lower-cased.
    public static func foldedEmail(_ email: String) -> String {
        guard let at = email.lastIndex(of: "@") else { return folded(email) }
        return folded(String(email[..<at])) + "@" + normalized(String(email[email.index(after: at)...])).lowercased()
    }

    /// Whether `text` is already in NFKC: a name spelled with compatibility characters (the
    /// Kelvin sign, fullwidth letters) is refused where it would be matched to another account.
    public static func isNormalized(_ text: String) -> Bool {
        // Scalar by scalar: String's == already treats canonical equivalents (the Kelvin sign and K) as equal.
        normalized(text).unicodeScalars.elementsEqual(text.unicodeScalars)
    }

    /// The same address when compared scalar by scalar after lower-casing, both in NFKC:
    /// stricter than `foldedEmail` (which makes `straße` and `strasse` one), for deciding
    /// that two addresses are one person's.
    public static func isSameAddressIgnoringCase(_ first: String, _ second: String) -> Bool {
        isNormalized(first) && isNormalized(second)
            && first.lowercased().unicodeScalars.elementsEqual(second.lowercased().unicodeScalars)
    }

    /// Whether `text` holds a control or format character: C0 and C1 controls (NUL, escapes,
    /// line breaks; PostgreSQL cannot store NUL at all), format characters (bidirectional
    /// overrides and isolates such as U+202E and U+2066, zero-width spaces and joiners) and the
    /// line and paragraph separators. None belongs in a name, title, description or address:
    /// shown raw in a terminal, a page or a webhook payload they reorder or hide what is read.
    /// A zero-width joiner between two pictographs (👩‍💻, a title people give a laptop's token)
    /// is kept: it joins them into one emoji and hides nothing.
    public static func hasControlOrFormatCharacters(_ text: String) -> Bool {
        guard text.unicodeScalars.contains(where: isControlOrFormat) else { return false }
        let scalars = Array(text.unicodeScalars)
        return scalars.indices.contains { isHidden(scalars, at: $0) }
    }

    /// `text` without its control and format characters, for names a provider vouches for.
    public static func withoutControlOrFormatCharacters(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControlOrFormat) else { return text }
        let scalars = Array(text.unicodeScalars)
        return String(
            String.UnicodeScalarView(scalars.indices.filter { !isHidden(scalars, at: $0) }.map { scalars[$0] }))
    }

    /// Whether the scalar at `index` is a control or format character, but for a zero-width
    /// joiner inside an emoji sequence (after a pictograph and its modifiers, before another).
    private static func isHidden(_ scalars: [Unicode.Scalar], at index: Int) -> Bool {
        guard isControlOrFormat(scalars[index]) else { return false }
        guard scalars[index] == "\u{200D}", index > 0, index + 1 < scalars.count else { return true }
        var before = index - 1
        // Skin tones (U+1F3FB to U+1F3FF) and the emoji presentation selector (U+FE0F) modify the pictograph.
        while before > 0, scalars[before] == "\u{FE0F}" || (0x1F3FB...0x1F3FF).contains(scalars[before].value) {
            before -= 1
        }
        return !(isPictograph(scalars[before]) && isPictograph(scalars[index + 1]))
    }

    private static func isPictograph(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value >= 0x80 && scalar.properties.isEmoji
    }

    private static func isControlOrFormat(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: true
        default: false
        }
    }

    /// Whether `text` holds a character that shows as nothing (joiners, variation
    /// selectors, the Hangul filler): `admin` and `admin` + U+034F must not be two names.
    public static func hasInvisibleCharacters(_ text: String) -> Bool {
        text.unicodeScalars.contains {
            $0.properties.isDefaultIgnorableCodePoint || $0.value == 0x3164 || $0.value == 0x1160
        }
    }

    /// The scripts of the letters in `text`, when they mix in a way a person could be
    /// fooled by (Unicode TS #39, "highly restrictive"): Cyrillic `А` beside Latin
    /// `dmin`. Digits and `@ . + - _` belong to every script. Empty when the name is fine.
    public static func mixedScripts(in text: String) -> [String] {
        var scripts: Set<Script> = []
        for scalar in text.unicodeScalars where !scalar.properties.generalCategory.isMark {
            if let script = Script(scalar) { scripts.insert(script) }
        }
        guard scripts.count > 1 else { return [] }
        let allowed: [Set<Script>] = [
            [.latin, .han, .hiragana, .katakana], [.latin, .han, .bopomofo], [.latin, .han, .hangul],
        ]
        if allowed.contains(where: { scripts.isSubset(of: $0) }) { return [] }
        return scripts.map(\.name).sorted()
    }

    /// The script of a letter, by the Unicode blocks of the scripts people write names in;
    /// a letter of any other block is its own script, named by its block.
    enum Script: Hashable {
        case latin, greek, cyrillic, armenian, hebrew, arabic, thai, georgian, hangul, han, hiragana, katakana
        case bopomofo
        case block(UInt32)

        private static let ranges: [(ClosedRange<UInt32>, Script)] = [
            (0x41...0x5A, .latin), (0x61...0x7A, .latin), (0xAA...0xAA, .latin), (0xBA...0xBA, .latin),
            (0xC0...0x24F, .latin), (0x250...0x2AF, .latin), (0x1D00...0x1D7F, .latin), (0x1E00...0x1EFF, .latin),
            (0x2C60...0x2C7F, .latin), (0xA720...0xA7FF, .latin), (0xAB30...0xAB6F, .latin),
            (0x370...0x3FF, .greek), (0x1F00...0x1FFF, .greek),
            (0x400...0x52F, .cyrillic), (0x1C80...0x1C8F, .cyrillic), (0x2DE0...0x2DFF, .cyrillic),
            (0xA640...0xA69F, .cyrillic),
            (0x530...0x58F, .armenian), (0x590...0x5FF, .hebrew), (0xFB1D...0xFB4F, .hebrew),
            (0x600...0x6FF, .arabic), (0x750...0x77F, .arabic), (0x8A0...0x8FF, .arabic), (0xFB50...0xFDFF, .arabic),
            (0xFE70...0xFEFF, .arabic), (0xE00...0xE7F, .thai), (0x10A0...0x10FF, .georgian),
            (0x1C90...0x1CBF, .georgian), (0x1100...0x11FF, .hangul), (0x3130...0x318F, .hangul),
            (0xAC00...0xD7AF, .hangul), (0x3040...0x309F, .hiragana), (0x30A0...0x30FF, .katakana),
            (0x31F0...0x31FF, .katakana), (0x3100...0x312F, .bopomofo), (0x2E80...0x2FDF, .han),
            (0x3005...0x3007, .han), (0x3400...0x4DBF, .han), (0x4E00...0x9FFF, .han), (0xF900...0xFAFF, .han),
            (0x20000...0x3FFFF, .han),
        ]

        /// nil for what belongs to every script: ASCII digits and punctuation.
        init?(_ scalar: Unicode.Scalar) {
            let value = scalar.value
            if value < 0x80, !scalar.properties.isAlphabetic { return nil }
            self = Self.ranges.first(where: { $0.0.contains(value) })?.1 ?? .block(value >> 7)
        }

        var name: String {
            switch self {
            case .block(let block): "U+\(String(block << 7, radix: 16, uppercase: true)) block"
            default: "\(self)".capitalized
            }
        }
    }
}

extension Unicode.GeneralCategory {
    fileprivate var isMark: Bool {
        self == .nonspacingMark || self == .spacingMark || self == .enclosingMark
    }
}
