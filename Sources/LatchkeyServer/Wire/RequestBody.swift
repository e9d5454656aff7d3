import Hummingbird
import NIOCore

extension Request {
    /// The whole body, at most `limit` bytes (else 413). A body the client framed wrongly
    /// (a bad chunk size, a transfer coding HTTP/1.1 servers need not know) is the client's
    /// error: 400 in the dialect's shape, never a 500.
    func collectBody(upTo limit: Int) async throws -> ByteBuffer {
        do {
            return try await body.collect(upTo: limit)
        } catch let error as any HTTPResponseError {
            throw error
        } catch {
            throw HTTPError(.badRequest, message: "The request body could not be read.")
        }
    }
}
