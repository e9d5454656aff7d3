import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Standard output for log lines without a write on the request path: lines collect in
/// memory and a thread of their own writes them every 20 ms. A caller never writes and never
/// waits for a write: past 1 MiB waiting (standard output stalled: a full pipe, a throttled
/// log driver), lines are dropped and counted, and a line says how many once output moves
/// again. Event loops log; one blocked in `write(2)` would stop serving. `flush()` runs at
/// exit; a crash loses at most the last 20 ms of lines.
final class BufferedStandardOutput: Sendable {
    static let shared = BufferedStandardOutput()
    private static let limit = 1_024 * 1_024

    private let pending = Mutex<(bytes: [UInt8], dropped: Int)>(([], 0))
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
        pending.withLock { pending in
            if pending.bytes.count >= Self.limit {
                pending.dropped += 1
            } else {
                pending.bytes.append(contentsOf: text.utf8)
            }
        }
    }

    func flush() {
        writing.withLock { _ in
            let bytes = pending.withLock { pending in
                defer {
                    pending.bytes.removeAll(keepingCapacity: true)
                    pending.dropped = 0
                }
                guard pending.dropped > 0 else { return pending.bytes }
                return pending.bytes
                    + Array("latchkey: \(pending.dropped) log lines dropped: standard output did not keep up\n".utf8)
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
