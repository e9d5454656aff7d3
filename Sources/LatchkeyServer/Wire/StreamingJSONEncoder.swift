import Foundation
import Hummingbird
import NIOCore

/// JSON response bodies written straight to bytes as the value encodes itself, keys in
/// the order they are encoded. Foundation's `JSONEncoder` builds a tree of boxed values
/// first, which is most of the CPU a verified request costs. Output reads as Foundation's
/// with `.withoutEscapingSlashes`: `Data` as base64, `URL` as its absolute string, whole
/// doubles without `.0`, non-finite numbers refused.
public struct StreamingJSONEncoder: ResponseEncoder {
    public func encode(_ value: some Encodable, from request: Request, context: some RequestContext) throws -> Response
    {
        let bytes = try encode(value)
        return Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8", .contentLength: String(bytes.count)],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    func encode(_ value: some Encodable) throws -> [UInt8] {
        let sink = JSONSink()
        try sink.write(value, depth: 0, codingPath: [])
        return sink.bytes
    }
}

/// The bytes written so far and the containers still open. A container is closed when
/// something is next written at a shallower depth, or when its value is done: Swift's
/// `Encoder` never says when a container ends.
private final class JSONSink {
    var bytes: [UInt8] = []
    private var open: [(closer: UInt8, hasElements: Bool)] = []

    init() {
        bytes.reserveCapacity(512)
    }

    func closeDeeper(than depth: Int) {
        while open.count > depth { bytes.append(open.removeLast().closer) }
    }

    func open(_ opener: UInt8, _ closer: UInt8, at depth: Int) {
        closeDeeper(than: depth)
        bytes.append(opener)
        open.append((closer, false))
    }

    /// Before an element of the container `depth` levels down: a comma after the first.
    func beginElement(in depth: Int) {
        closeDeeper(than: depth)
        // A container written to after it was closed (an `encode(to:)` that interleaves nested
        // containers) would make invalid JSON; it must not stop the process.
        guard depth >= 1, depth <= open.count else { return }
        if open[depth - 1].hasElements {
            bytes.append(UInt8(ascii: ","))
        } else {
            open[depth - 1].hasElements = true
        }
    }

    func key(_ key: some CodingKey, in depth: Int) {
        beginElement(in: depth)
        string(key.stringValue)
        bytes.append(UInt8(ascii: ":"))
    }

    /// Writes `value` where the cursor is (after a key, an element's comma, or at the top).
    /// Known types are told apart by comparing types, not by casting: most values here are
    /// structs and arrays, for which every failed cast (each a conformance search) cost more
    /// than writing the value.
    func write<T: Encodable>(_ value: T, depth: Int, codingPath: [any CodingKey]) throws {
        if T.self == String.self {
            string(unsafeBitCast(value, to: String.self))
        } else if T.self == Bool.self {
            literal(unsafeBitCast(value, to: Bool.self) ? "true" : "false")
        } else if let text = Self.integerText(value) {
            literal(text)
        } else if T.self == Double.self {
            try double(unsafeBitCast(value, to: Double.self), codingPath)
        } else if T.self == Float.self {
            try double(Double(unsafeBitCast(value, to: Float.self)), codingPath)
        } else if T.self == URL.self {
            string(unsafeBitCast(value, to: URL.self).absoluteString)
        } else if T.self == Data.self {
            string(unsafeBitCast(value, to: Data.self).base64EncodedString())
        } else {
            let mark = bytes.count
            try value.encode(to: StreamingEncoder(sink: self, depth: depth, codingPath: codingPath))
            closeDeeper(than: depth)
            if bytes.count == mark { literal("{}") }  // Foundation's answer for a value that wrote nothing
        }
    }

    /// The decimal text of a standard library integer; nil for any other type.
    private static func integerText<T>(_ value: T) -> String? {
        func ifType<Integer: FixedWidthInteger>(_: Integer.Type) -> String? {
            T.self == Integer.self ? String(unsafeBitCast(value, to: Integer.self)) : nil
        }
        return ifType(Int.self) ?? ifType(Int64.self) ?? ifType(Int32.self) ?? ifType(Int16.self) ?? ifType(Int8.self)
            ?? ifType(UInt.self) ?? ifType(UInt64.self) ?? ifType(UInt32.self) ?? ifType(UInt16.self)
            ?? ifType(UInt8.self)
    }

    func literal(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    func double(_ number: Double, _ codingPath: [any CodingKey]) throws {
        guard number.isFinite else {
            throw EncodingError.invalidValue(
                number, .init(codingPath: codingPath, debugDescription: "\(number) is not a JSON number"))
        }
        let text = number.description
        literal(text.hasSuffix(".0") ? String(text.dropLast(2)) : text)
    }

    func string(_ text: String) {
        JSONText.append(text, to: &bytes)
    }
}

private struct StreamingEncoder: Encoder {
    let sink: JSONSink
    /// How many containers are open around the value this encoder writes.
    let depth: Int
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        sink.open(UInt8(ascii: "{"), UInt8(ascii: "}"), at: depth)
        return KeyedEncodingContainer(KeyedContainer(sink: sink, depth: depth + 1, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        sink.open(UInt8(ascii: "["), UInt8(ascii: "]"), at: depth)
        return UnkeyedContainer(sink: sink, depth: depth + 1, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueContainer(sink: sink, depth: depth, codingPath: codingPath)
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let sink: JSONSink
    let depth: Int
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws {
        sink.key(key, in: depth)
        sink.literal("null")
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        sink.key(key, in: depth)
        try sink.write(value, depth: depth, codingPath: codingPath + [key])
    }

    // Synthesized conformances call these for plain properties: no dynamic casts.
    mutating func encode(_ value: String, forKey key: Key) throws {
        sink.key(key, in: depth)
        sink.string(value)
    }

    mutating func encode(_ value: Int64, forKey key: Key) throws {
        sink.key(key, in: depth)
        sink.literal(String(value))
    }

    mutating func encode(_ value: Int, forKey key: Key) throws {
        sink.key(key, in: depth)
        sink.literal(String(value))
    }

    mutating func encode(_ value: Bool, forKey key: Key) throws {
        sink.key(key, in: depth)
        sink.literal(value ? "true" : "false")
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        sink.key(key, in: depth)
        return StreamingEncoder(sink: sink, depth: depth, codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        sink.key(key, in: depth)
        return StreamingEncoder(sink: sink, depth: depth, codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        sink.key(SuperKey(), in: depth)
        return StreamingEncoder(sink: sink, depth: depth, codingPath: codingPath + [SuperKey()])
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        sink.key(key, in: depth)
        return StreamingEncoder(sink: sink, depth: depth, codingPath: codingPath + [key])
    }
}

/// Foundation's key for `superEncoder()`.
private struct SuperKey: CodingKey {
    var stringValue: String { "super" }
    var intValue: Int? { nil }
    init() {}
    init?(stringValue: String) { nil }
    init?(intValue: Int) { nil }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let sink: JSONSink
    let depth: Int
    let codingPath: [any CodingKey]
    private(set) var count = 0

    init(sink: JSONSink, depth: Int, codingPath: [any CodingKey]) {
        self.sink = sink
        self.depth = depth
        self.codingPath = codingPath
    }

    mutating func encodeNil() throws {
        sink.beginElement(in: depth)
        sink.literal("null")
        count += 1
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        sink.beginElement(in: depth)
        count += 1
        try sink.write(value, depth: depth, codingPath: codingPath)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        sink.beginElement(in: depth)
        count += 1
        return StreamingEncoder(sink: sink, depth: depth, codingPath: codingPath).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        sink.beginElement(in: depth)
        count += 1
        return StreamingEncoder(sink: sink, depth: depth, codingPath: codingPath).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        sink.beginElement(in: depth)
        count += 1
        return StreamingEncoder(sink: sink, depth: depth, codingPath: codingPath)
    }
}

private struct SingleValueContainer: SingleValueEncodingContainer {
    let sink: JSONSink
    let depth: Int
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws {
        sink.closeDeeper(than: depth)
        sink.literal("null")
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        sink.closeDeeper(than: depth)
        try sink.write(value, depth: depth, codingPath: codingPath)
    }
}
