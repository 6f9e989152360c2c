import Glibc  // exit, write (import Darwin on macOS)
import Selectors

// The callback echo server of Python's `selectors` documentation, in Swift: one selector,
// one handler per descriptor. Unlike the original it keeps what the kernel did not take
// and sends it when the socket is writable again, so no byte is lost to a partial write.
let arguments = Array(CommandLine.arguments.dropFirst())
let port = arguments.isEmpty ? 1234 : UInt16(arguments[0])  // 0: any free port
guard let port, arguments.count < 2 else {
    let usage = "usage: callback-echo [PORT]\n"
    _ = write(2, usage, usage.utf8.count)  // standard error, as for every error
    exit(2)
}

/// Says on standard error what failed, and exits with status 1 (an error thrown out here, at
/// the top level, would crash the program instead).
func fail(_ message: String) -> Never {
    let line = "callback-echo: \(message)\n"
    _ = write(2, line, line.utf8.count)
    exit(1)
}

let selector: DefaultSelector
do { selector = try DefaultSelector() } catch { fail("\(error)") }
var unsent: [Int32: [UInt8]] = [:]  // per connection, bytes still to be written
var buffer = [UInt8](repeating: 0, count: 4096)

// Top-level state belongs to the main actor in Swift 6, and so do these functions; the
// handlers are closures written here, on the main actor, and the selector runs them on the
// main thread below.
@MainActor func accept(_ listener: Int32, _ events: Events) {
    while let connection = try? Socket.accept(listener) {  // non-blocking already
        print("accepted fd \(connection)")
        _ = try? selector.register(connection, events: .read, handler: { serve($0, $1) })
    }
}

@MainActor func serve(_ connection: Int32, _ events: Events) {
    if events.contains(.write), !flush(connection) { return }
    guard events.contains(.read), unsent[connection] == nil else { return }
    do {
        // nil: nothing to read after all (would block); 0: the client closed its side.
        guard let count = try buffer.withUnsafeMutableBytes({ try Socket.read(connection, into: $0) })
        else { return }
        if count == 0 { return disconnect(connection) }
        unsent[connection] = Array(buffer[..<count])
        _ = flush(connection)
    } catch {
        disconnect(connection)  // reset or another error
    }
}

/// Writes what is unsent; watches `.write` (and not `.read`) while something is left.
/// Returns false when the connection was closed.
@MainActor func flush(_ connection: Int32) -> Bool {
    guard var bytes = unsent[connection] else { return true }
    do {
        let written = try bytes.withUnsafeBytes { try Socket.write(connection, from: $0) } ?? 0
        bytes.removeFirst(written)
        unsent[connection] = bytes.isEmpty ? nil : bytes
        _ = try selector.modify(connection, events: bytes.isEmpty ? .read : .write)
        return true
    } catch {
        disconnect(connection)
        return false
    }
}

@MainActor func disconnect(_ connection: Int32) {
    print("closing fd \(connection)")
    unsent[connection] = nil
    _ = try? selector.unregister(connection)
    Socket.close(connection)
}

do {
    let listener = try Socket.makeListener(address: .ipv4Loopback(port: port), backlog: 100)
    try selector.register(listener.fd, events: .read, handler: { accept($0, $1) })
    print("listening on \(listener.address)")
} catch {
    fail("cannot listen on 127.0.0.1:\(port): \(error)")  // the port is taken, say
}

do {
    while true {
        for (key, events) in try selector.select() {
            key.handler(key.fd, events)  // Python: callback = key.data; callback(key.fileobj, mask)
        }
    }
} catch {
    fail("\(error)")
}
