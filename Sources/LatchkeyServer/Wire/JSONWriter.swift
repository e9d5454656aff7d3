import Hummingbird
import NIOCore

/// A response body that writes its JSON itself, straight into the response's buffer, for
/// the bodies of the busiest routes (`/api/users/me`, a page of tokens). Through `Encodable`,
/// every nested value costs a container box, generic metadata lookups and existentials: most
/// of the CPU such a request spent above the framework's own. Tests check that `write(to:)`
/// writes byte for byte what the type's `Encodable` conformance writes (through
/// `StreamingJSONEncoder`), which stays the definition of the wire format.
protocol JSONWritable: Encodable, ResponseGenerator {
    func write(to json: inout JSONWriter)
    /// About how many bytes it writes, so that a large body is not copied as its buffer grows.
    var sizeHint: Int { get }
}

extension JSONWritable {
    var sizeHint: Int { 512 }

    func response(from request: Request, context: some RequestContext) -> Response {
        var json = JSONWriter(capacity: sizeHint)
        write(to: &json)
        return Response(
            status: .ok,
            headers: [
                .contentType: "application/json; charset=utf-8", .contentLength: String(json.buffer.readableBytes),
            ],
            body: .init(byteBuffer: json.buffer))
    }
}

/// Members and elements written in order, each after a comma unless it is the first of
/// its object or array.
struct JSONWriter {
    private(set) var buffer = ByteBuffer()
    /// Whether a value (or a whole object or array) was written last: what comes next
    /// follows a comma.
    private var afterValue = false

    init(capacity: Int = 512) {
        buffer.reserveCapacity(capacity)
    }

    mutating func beginObject() {
        separate()
        buffer.writeInteger(UInt8(ascii: "{"))
        afterValue = false
    }

    mutating func endObject() {
        buffer.writeInteger(UInt8(ascii: "}"))
        afterValue = true
    }

    /// `"name":`; names are the wire's own literals, never escaped.
    mutating func key(_ name: StaticString) {
        // In one write: each write to a buffer checks its capacity and uniqueness.
        let comma = afterValue ? 1 : 0
        let length = comma + name.utf8CodeUnitCount + 3
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { out in
            if comma == 1 { out[0] = UInt8(ascii: ",") }
            out[comma] = UInt8(ascii: "\"")
            name.withUTF8Buffer {
                UnsafeMutableRawBufferPointer(rebasing: out[(comma + 1)...]).copyMemory(from: .init($0))
            }
            out[length - 2] = UInt8(ascii: "\"")
            out[length - 1] = UInt8(ascii: ":")
            return length
        }
        afterValue = false
    }

    mutating func field(_ name: StaticString, _ text: String) {
        key(name)
        string(text)
    }

    /// `null` when absent, as `NullWhenAbsent` writes it.
    mutating func field(_ name: StaticString, _ text: String?) {
        key(name)
        if let text { string(text) } else { null() }
    }

    /// A date as the dialect's string, written in place.
    mutating func field(_ name: StaticString, _ time: UTCTimestamp?) {
        key(name)
        guard let time else { return null() }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: UTCTimestamp.maximumLength + 2) { raw in
            let out = raw.bindMemory(to: UInt8.self)
            out[0] = UInt8(ascii: "\"")
            let length = time.write(to: UnsafeMutableBufferPointer(rebasing: out[1...]))
            out[length + 1] = UInt8(ascii: "\"")
            return length + 2
        }
        afterValue = true
    }

    mutating func field(_ name: StaticString, _ number: some FixedWidthInteger) {
        key(name)
        buffer.writeString(String(number))
        afterValue = true
    }

    mutating func field(_ name: StaticString, _ texts: [String]) {
        key(name)
        buffer.writeInteger(UInt8(ascii: "["))
        for text in texts {
            separate()
            string(text)
        }
        buffer.writeInteger(UInt8(ascii: "]"))
        afterValue = true
    }

    mutating func field(_ name: StaticString, _ values: [some JSONWritable]) {
        key(name)
        buffer.writeInteger(UInt8(ascii: "["))
        for value in values { value.write(to: &self) }
        buffer.writeInteger(UInt8(ascii: "]"))
        afterValue = true
    }

    private mutating func null() {
        buffer.writeString("null")
        afterValue = true
    }

    private mutating func string(_ text: String) {
        JSONText.append(text, to: &buffer)
        afterValue = true
    }

    private mutating func separate() {
        if afterValue { buffer.writeInteger(UInt8(ascii: ",")) }
    }
}

/// Where JSON text is written: an array (the streaming encoder) or a response's buffer.
protocol JSONBytes {
    mutating func append(_ byte: UInt8)
    mutating func append(contentsOf bytes: some Sequence<UInt8>)
    /// `"text"`, for text that needs no escape.
    mutating func appendQuoted(_ text: UnsafeBufferPointer<UInt8>)
}

extension [UInt8]: JSONBytes {
    mutating func appendQuoted(_ text: UnsafeBufferPointer<UInt8>) {
        append(UInt8(ascii: "\""))
        append(contentsOf: text)
        append(UInt8(ascii: "\""))
    }
}

extension ByteBuffer: JSONBytes {
    mutating func append(_ byte: UInt8) {
        writeInteger(byte)
    }

    mutating func append(contentsOf bytes: some Sequence<UInt8>) {
        writeBytes(bytes)
    }

    mutating func appendQuoted(_ text: UnsafeBufferPointer<UInt8>) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: text.count + 2) { out in
            out[0] = UInt8(ascii: "\"")
            UnsafeMutableRawBufferPointer(rebasing: out[1...]).copyMemory(from: UnsafeRawBufferPointer(text))
            out[text.count + 1] = UInt8(ascii: "\"")
            return text.count + 2
        }
    }
}

/// JSON string literals, as Foundation's encoder escapes them (`.withoutEscapingSlashes`).
enum JSONText {
    static func append(_ text: String, to bytes: inout some JSONBytes) {
        var text = text
        text.withUTF8 { utf8 in
            // Most strings need no escape: copy those whole.
            if utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                appendEscaped(utf8, to: &bytes)
            } else {
                bytes.appendQuoted(utf8)
            }
        }
    }

    private static func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>, to bytes: inout some JSONBytes) {
        bytes.append(UInt8(ascii: "\""))
        let hex = Array("0123456789abcdef".utf8)
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): bytes.append(contentsOf: "\\\\".utf8)
            case 0x0A: bytes.append(contentsOf: "\\n".utf8)
            case 0x0D: bytes.append(contentsOf: "\\r".utf8)
            case 0x09: bytes.append(contentsOf: "\\t".utf8)
            case 0x08: bytes.append(contentsOf: "\\b".utf8)
            case 0x0C: bytes.append(contentsOf: "\\f".utf8)
            case 0..<0x20: bytes.append(contentsOf: Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
