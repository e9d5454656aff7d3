import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Standard output for log lines without a write on the request path: lines collect in
/// memory and a thread of their own writes them every 20 ms (at once past 256 KiB, which
/// bounds the memory). `flush()` runs at exit; a crash loses at most the last 20 ms of lines.
final class BufferedStandardOutput: Sendable {
    static let shared = BufferedStandardOutput()
    private static let limit = 256 * 1_024

    private let pending = Mutex<[UInt8]>([])
    /// One writer at a time, so that lines keep their order.
    private let writing = Mutex(())

    private init() {
        let thread = Thread { [self] in
            while true {
                usleep(20_000)
                flush()
            }
        }
        thread.name = "log writer"
        thread.start()
        atexit { BufferedStandardOutput.shared.flush() }
    }

    func write(_ text: String) {
        let full = pending.withLock { pending in
            pending.append(contentsOf: text.utf8)
            return pending.count >= Self.limit
        }
        if full { flush() }
    }

    func flush() {
        writing.withLock { _ in
            let bytes = pending.withLock { pending in
                defer { pending.removeAll(keepingCapacity: true) }
                return pending
            }
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { Glibc.write(1, $0.baseAddress! + offset, bytes.count - offset) }
                if written > 0 {
                    offset += written
                } else if errno != EINTR {
                    return  // Nowhere to write (a closed pipe): drop the lines rather than stop serving.
                }
            }
        }
    }
}
