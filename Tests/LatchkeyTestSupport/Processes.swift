import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The built `latchkey` executable: LATCHKEY_BIN, else beside the test bundle.
public func latchkeyExecutable() -> URL {
    if let path = ProcessInfo.processInfo.environment["LATCHKEY_BIN"], !path.isEmpty {
        return URL(fileURLWithPath: path)
    }
    let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    return runner.deletingLastPathComponent().appendingPathComponent("latchkey")
}

public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs `latchkey` with `arguments` to completion.
public func runLatchkey(
    _ arguments: [String], stdin: String = "", environment: [String: String] = [:], in directory: URL? = nil
) throws -> ProcessResult {
    let process = Process()
    process.executableURL = latchkeyExecutable()
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment
        .filter { !$0.key.hasPrefix("LATCHKEY_") }
        .merging(environment) { $1 }
    if let directory { process.currentDirectoryURL = directory }
    let input = Pipe()
    let output = Pipe()
    let errors = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    input.fileHandleForWriting.write(Data(stdin.utf8))
    try input.fileHandleForWriting.close()
    let outData = output.fileHandleForReading.readDataToEndOfFile()
    let errData = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessResult(
        status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

/// A TCP socket listening on a free loopback port, for as long as it is open.
public final class ListeningSocket {
    public let port: Int
    private let descriptor: Int32
    private var isOpen = true

    public init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.descriptor = descriptor
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && listen(descriptor, 16) == 0
                    && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRNOTAVAIL) }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    public func close() {
        guard isOpen else { return }
        isOpen = false
        _ = Glibc.close(descriptor)
    }

    deinit { close() }
}

/// A free loopback port (free when this returns; tests accept the small race).
public func freePort() throws -> Int {
    let socket = try ListeningSocket()
    defer { socket.close() }
    return socket.port
}

/// A `latchkey serve` process, started and waited for until it listens.
public final class ServerProcess: @unchecked Sendable {
    public let port: Int
    public let process = Process()
    private let output = Pipe()
    private let lock = NSLock()
    private var collected = ""
    private let lines: AsyncStream<String>

    public var baseURL: URL { URL(string: "http://127.0.0.1:\(port)")! }

    /// Everything the server has printed so far (stdout and stderr together).
    public var printed: String { lock.withLock { collected } }

    public init(arguments: [String], environment: [String: String] = [:], in directory: URL) throws {
        port = try freePort()
        process.executableURL = latchkeyExecutable()
        process.arguments = ["serve", "--port", "\(port)"] + arguments
        process.environment = ProcessInfo.processInfo.environment
            .filter { !$0.key.hasPrefix("LATCHKEY_") }
            .merging(environment) { $1 }
        process.currentDirectoryURL = directory
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        lines = stream
        output.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            guard let self, !chunk.isEmpty else {
                continuation.finish()
                handle.readabilityHandler = nil
                return
            }
            let text = String(decoding: chunk, as: UTF8.self)
            self.lock.withLock { self.collected += text }
            continuation.yield(text)
        }
        try process.run()
    }

    /// Waits until the server says it listens; false if it exited first.
    public func waitUntilListening() async -> Bool {
        for await _ in lines where printed.contains("listening on") {
            return true
        }
        return printed.contains("listening on")
    }

    /// Sends SIGTERM and waits for the exit status.
    public func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { process.terminate() }
    }
}

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One HTTP request to a running server: status and body.
public func httpRequest(
    _ url: URL, method: String = "GET", headers: [String: String] = [:], body: Data? = nil
) async throws -> (status: Int, body: String) {
    var request = URLRequest(url: url)
    request.httpMethod = method
    request.httpBody = body
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    let (data, response) = try await URLSession.shared.data(for: request)
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
}
