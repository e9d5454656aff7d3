import LatchkeyCore
import Logging

/// Wraps a log handler so that no line, message or metadata, carries a secret.
public struct SecretRedactingLogHandler: LogHandler {
    private var wrapped: any LogHandler

    public init(_ wrapped: any LogHandler) {
        self.wrapped = wrapped
    }

    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = Self.redact(newValue) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue.map(Self.redact) }
    }

    public func log(event: LogEvent) {
        var event = event
        event.message = "\(SecretRedaction.redact(event.message.description))"
        var metadata = event.metadata.map { Self.redact($0) } ?? [:]
        if let error = event.error {
            event.error = nil
            metadata["error"] = .string(SecretRedaction.redact("\(error)"))
        }
        event.metadata = metadata.isEmpty ? nil : metadata
        wrapped.log(event: event)
    }

    private static func redact(_ metadata: Logger.Metadata) -> Logger.Metadata {
        metadata.mapValues(redact)
    }

    private static func redact(_ value: Logger.MetadataValue) -> Logger.MetadataValue {
        switch value {
        case .string(let text): .string(SecretRedaction.redact(text))
        case .stringConvertible(let item): .string(SecretRedaction.redact(item.description))
        case .array(let items): .array(items.map(redact))
        case .dictionary(let items): .dictionary(redact(items))
        }
    }
}
