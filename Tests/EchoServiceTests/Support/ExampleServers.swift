import Glibc
import Selectors

/// Starts the example program `name` with `arguments` (shell words) as a child process whose
/// standard output is line-buffered (`stdbuf -oL`: it is a pipe here, and `print` buffers
/// whole blocks for pipes), and reads the address from its `listening on ADDRESS` line.
func startListeningExample(_ name: String, _ arguments: String) throws -> (
    child: ChildProcess, address: SocketAddress
) {
    let path = try builtExecutable(name)
    let child = try ChildProcess(shell: "exec stdbuf -oL '\(path)' \(arguments)")
    guard let line = child.waitForLine(containing: "listening on") else {
        throw TestFailure("\(name): no listening line; output: \(child.stdoutText) \(child.stderrText)")
    }
    return (child, try listeningAddress(line))
}

/// The descriptors process `pid` has open, each as `NUMBER -> TARGET` (from /proc/PID/fd), so
/// a leak names what leaked. Listing another process's table opens nothing in it.
func openDescriptors(of pid: pid_t) -> [String] {
    guard let directory = opendir("/proc/\(pid)/fd") else { return [] }
    defer { closedir(directory) }
    var descriptors: [String] = []
    while let entry = readdir(directory) {
        let name = entryName(entry)
        guard !name.hasPrefix(".") else { continue }
        var target = [CChar](repeating: 0, count: 512)
        let length = readlink("/proc/\(pid)/fd/\(name)", &target, target.count - 1)
        let text =
            length > 0
            ? String(decoding: target[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
        descriptors.append("\(name) -> \(text)")
    }
    return descriptors.sorted()
}

/// Reads and writes with deadlines on the blocking sockets `Client.connect` makes, for
/// clients that must finish on time whatever the server does.
enum TimedIO {
    /// Writes all of `bytes` (the socket's 20 s send timeout bounds each wait).
    static func send(_ fd: Int32, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { buffer in
            var sent = 0
            while sent < buffer.count {
                guard
                    let count = try Socket.write(fd, from: UnsafeRawBufferPointer(rebasing: buffer[sent...]))
                else { throw TestFailure("send timed out after \(sent) of \(buffer.count) bytes") }
                sent += count
            }
        }
    }

    static func send(_ fd: Int32, _ text: String) throws { try send(fd, Array(text.utf8)) }

    /// Waits up to `timeout` seconds for `fd` to be readable (data, end of stream or error).
    static func waitReadable(_ fd: Int32, timeout: Double) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, Int32(max(0, timeout) * 1000)) > 0
    }

    /// Reads exactly `count` bytes within `timeout` seconds.
    /// - Throws: on end of stream, a reset or the deadline before `count` bytes came.
    static func read(_ fd: Int32, count: Int, timeout: Double = 10) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let deadline = now() + timeout
        while bytes.count < count {
            guard waitReadable(fd, timeout: deadline - now()) else {
                throw TestFailure(
                    "timed out after \(bytes.count) of \(count) bytes: '\(String(decoding: bytes, as: UTF8.self))'"
                )
            }
            let wanted = count - bytes.count
            let read = try buffer.withUnsafeMutableBytes {
                try Socket.read(
                    fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[..<min(wanted, $0.count)]))
            }
            guard let read else { continue }
            guard read > 0 else {
                throw TestFailure(
                    "end of stream after \(bytes.count) of \(count) bytes: '\(String(decoding: bytes, as: UTF8.self))'"
                )
            }
            bytes += buffer[..<read]
        }
        return bytes
    }

    /// Reads `text.utf8.count` bytes and checks they are `text`.
    static func expect(_ fd: Int32, _ text: String, timeout: Double = 10) throws {
        let bytes = try read(fd, count: text.utf8.count, timeout: timeout)
        guard bytes.elementsEqual(text.utf8) else {
            throw TestFailure("expected '\(text)', got '\(String(decoding: bytes, as: UTF8.self))'")
        }
    }

    /// Checks that nothing arrives on `fd` for `seconds`.
    static func expectNothing(_ fd: Int32, for seconds: Double) throws {
        guard !waitReadable(fd, timeout: seconds) else {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = buffer.withUnsafeMutableBytes { (try? Socket.read(fd, into: $0)) ?? nil } ?? -1
            throw TestFailure(
                "expected nothing, got \(count) bytes: '\(String(decoding: buffer[..<max(0, count)], as: UTF8.self))'"
            )
        }
    }

    /// Reads what has arrived (waiting for it with the socket's timeout): nil at end of stream.
    /// - Throws: a reset, or a read that timed out.
    static func readSome(_ fd: Int32) throws -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        guard let count = try buffer.withUnsafeMutableBytes({ try Socket.read(fd, into: $0) }) else {
            throw TestFailure("read timed out")
        }
        return count == 0 ? nil : Array(buffer[..<count])
    }

    /// Reads until end of stream or a reset, within `timeout` seconds: the bytes, and whether
    /// the stream ended with a reset.
    /// - Throws: if the stream has not ended by the deadline.
    static func readToEnd(_ fd: Int32, timeout: Double = 10) throws -> (bytes: [UInt8], reset: Bool) {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let deadline = now() + timeout
        while true {
            guard waitReadable(fd, timeout: deadline - now()) else {
                throw TestFailure("no end of stream within \(timeout) s; \(bytes.count) bytes came")
            }
            let read: Int?
            do {
                read = try buffer.withUnsafeMutableBytes { try Socket.read(fd, into: $0) }
            } catch let error as Errno where error == .connectionReset {
                return (bytes, true)
            }
            guard let read else { continue }
            if read == 0 { return (bytes, false) }
            bytes += buffer[..<read]
        }
    }
}

/// The name of a `readdir` entry, read where it lies. A record is only as long as its name,
/// so copying the whole `d_name` array out (256 bytes) reads past the end of the last record
/// in the buffer (AddressSanitizer caught it).
func entryName(_ entry: UnsafeMutablePointer<dirent>) -> String {
    let name = UnsafeRawPointer(entry) + MemoryLayout<dirent>.offset(of: \.d_name)!
    return String(cString: name.assumingMemoryBound(to: CChar.self))
}
