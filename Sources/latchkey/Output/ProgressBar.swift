import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A progress bar on a terminal (standard error); nothing otherwise.
final class ProgressBar: Sendable {
    let total: Int
    let isTerminal = isatty(STDERR_FILENO) == 1
    private let shown = Mutex(-1)

    init(total: Int) {
        self.total = total
    }

    func show(_ done: Int) {
        guard isTerminal, total > 0 else { return }
        let width = 30
        let filled = done * width / total
        guard
            shown.withLock({ shown in
                defer { shown = filled }
                return shown != filled
            }) || done == total
        else {
            return
        }
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        FileHandle.standardError.write(Data("\rimporting [\(bar)] \(done)/\(total)".utf8))
    }

    func finish() {
        if isTerminal && total > 0 { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
