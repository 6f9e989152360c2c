import Glibc  // SIGINT, SIGTERM, exit, write (import Darwin on macOS)
import Selectors

// An HTTP/1.0 server that answers every GET with "hello": requests are parsed however the
// bytes arrive (in pieces, or several in one read), answered in order, and the connection is
// kept open only when the request asks for it. Several loops share one listening socket.
//
//   http-hello 8080 &  curl -s http://127.0.0.1:8080/     # hello
//
// usage: http-hello [PORT] [LOOPS] [epoll|poll|select]     (PORT 0 picks a free one)

let arguments = Array(CommandLine.arguments.dropFirst())
let port = arguments.count > 0 ? UInt16(arguments[0]) : 8080
let loopCount = arguments.count > 1 ? Int(arguments[1]) : 2
let backend = arguments.count > 2 ? Backend(name: arguments[2]) : .default
// At most 16 loops: each one watches SIGINT and SIGTERM, and a signal reaches at most 16 loops.
guard let port, let loopCount, (1...16).contains(loopCount), let backend, backend.isAvailable,
    arguments.count <= 3
else {
    let usage = "usage: http-hello [PORT] [LOOPS] [epoll|poll|select]\n"
    _ = write(2, usage, usage.utf8.count)  // standard error, as for every error
    exit(2)
}

/// Says on standard error what failed, and exits with status 1 (an error thrown out here, at
/// the top level, would crash the program instead).
func fail(_ message: String) -> Never {
    let line = "http-hello: \(message)\n"
    _ = write(2, line, line.utf8.count)
    exit(1)
}

/// The protocol: parsing requests and choosing answers. (A type, not functions at the top level
/// of main.swift: Swift counts those as part of the main program, which may use its variables,
/// so the loops' threads could not call them.)
enum HTTP {
    static let hello = response("200 OK", body: "hello\n", keepAlive: false)
    static let helloKeepAlive = response("200 OK", body: "hello\n", keepAlive: true)
    static let helloHead = response("200 OK", body: "hello\n", keepAlive: false, head: true)
    static let helloHeadKeepAlive = response("200 OK", body: "hello\n", keepAlive: true, head: true)
    static let badRequest = response("400 Bad Request", body: "bad request\n", keepAlive: false)
    static let notImplemented = response("501 Not Implemented", body: "GET or HEAD only\n", keepAlive: false)

    /// A request head too long to be one: answered 400 rather than buffered without end.
    static let headLimit = 8 * 1024

    /// A whole answer: status line, headers, blank line, body (none for HEAD, whose headers
    /// are GET's).
    static func response(_ status: String, body: String, keepAlive: Bool, head: Bool = false) -> [UInt8] {
        Array(
            ("HTTP/1.0 \(status)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n"
                + "Connection: \(keepAlive ? "keep-alive" : "close")\r\n\r\n\(head ? "" : body)").utf8)
    }

    /// Answers the complete requests at the start of `unparsed` (and removes them), all in one
    /// write. After one that does not keep the connection, or a bad one, the connection is
    /// done: its output is shut down after the answers (the client reads them, then end of
    /// stream), and what it still sends is read and dropped until it closes, so the close
    /// never destroys an answer with a reset. Returns whether the connection goes on.
    static func serve(_ connection: Connection, _ unparsed: inout [UInt8]) -> Bool {
        var responses: [UInt8] = []
        var start = 0
        var keepAlive = true
        while keepAlive, let (lines, end) = nextHead(unparsed[start...]) {
            let answered = answer(lines)
            responses += answered.response
            keepAlive = answered.keepAlive
            start = end
        }
        unparsed.removeSubrange(..<start)
        if keepAlive && unparsed.count > headLimit {
            responses += badRequest
            keepAlive = false
        }
        if !responses.isEmpty { try? connection.write(responses) }  // what waits is queued
        if !keepAlive { connection.shutdownOutput() }
        return keepAlive
    }

    /// The first request head in `bytes`: its lines (without their CR LF, or bare LF) up to the
    /// blank line that ends it, and where the bytes after it start; nil until that blank line
    /// is in. Blank lines before a request are skipped, as RFC 9112 asks.
    static func nextHead(_ bytes: ArraySlice<UInt8>) -> (lines: [ArraySlice<UInt8>], end: Int)? {
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = bytes.startIndex
        for index in bytes.indices where bytes[index] == UInt8(ascii: "\n") {
            var line = bytes[lineStart..<index]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            lineStart = index + 1
            if !line.isEmpty {
                lines.append(line)
            } else if !lines.isEmpty {
                return (lines, lineStart)
            }
        }
        return nil
    }

    /// The answer to one request head, and whether the connection stays open after it.
    static func answer(_ lines: [ArraySlice<UInt8>]) -> (response: [UInt8], keepAlive: Bool) {
        // The request line: METHOD SP TARGET SP HTTP/1.x, nothing more or less.
        let parts = lines[0].split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(isToken), !parts[1].isEmpty,
            parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }),
            parts[2].elementsEqual("HTTP/1.0".utf8) || parts[2].elementsEqual("HTTP/1.1".utf8)
        else { return (badRequest, false) }
        // Headers: NAME ":" VALUE. HTTP/1.0 closes after the response unless the request says
        // `Connection: keep-alive`.
        var keepAlive = false
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                line[..<colon].allSatisfy(isToken)
            else { return (badRequest, false) }
            guard String(decoding: line[..<colon], as: UTF8.self).lowercased() == "connection" else {
                continue
            }
            let value = String(decoding: line[(colon + 1)...], as: UTF8.self).lowercased()
            keepAlive = value.split(separator: ",").contains {
                $0.filter { $0 != " " && $0 != "\t" } == "keep-alive"
            }
        }
        switch String(decoding: parts[0], as: UTF8.self) {
        case "GET": return (keepAlive ? helloKeepAlive : hello, keepAlive)
        case "HEAD": return (keepAlive ? helloHeadKeepAlive : helloHead, keepAlive)
        default: return (notImplemented, false)  // a body may follow, which is not parsed: close
        }
    }

    /// Whether `byte` may be part of a method or a header name (RFC 9110's `tchar`).
    static func isToken(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "a")...UInt8(ascii: "z"):
            true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

let listener: Listener
let group: EventLoopGroup
do {
    listener = try Listener(address: .ipv4Loopback(port: port))
    group = try EventLoopGroup(threads: loopCount, name: "http", backend: backend) { _, io in
        // This loop's connections; each one's bytes not yet answered, until it is done.
        var unparsed: [Connection: [UInt8]] = [:]
        var options = Connections.Options()
        options.idleTimeout = .seconds(30)  // a client that stalls mid-request, or never closes, goes
        let http = try Connections(loop: io, options: options) { connection, event in
            switch event {
            case .received(let bytes):
                guard unparsed[connection] != nil else { return }  // done: dropped
                unparsed[connection]! += bytes
                if !HTTP.serve(connection, &unparsed[connection]!) { unparsed[connection] = nil }
            case .closed: unparsed[connection] = nil
            default: break  // .endOfInput: the connection closes once its answers are written
            }
        }
        try listener.accept(on: io) { event in
            guard case .accepted(let fd) = event else { return }
            guard let connection = try? http.adopt(fd) else { return Socket.close(fd) }
            unparsed[connection] = []
        }
        // Ctrl-C or SIGTERM: stop accepting, finish what is in flight (2 s at most), stop the loop.
        for signal in [SIGINT, SIGTERM] {
            try io.onSignal(signal) {
                listener.stopAccepting(on: io)
                http.drain(until: io.now.advanced(by: .seconds(2))) { io.stop() }
            }
        }
    }
} catch {
    fail("cannot listen on 127.0.0.1:\(port): \(error)")  // the port is taken, say
}
print("listening on \(listener.address) (\(loopCount) loops, \(backend))")
try group.join()  // until every loop has stopped (it throws only on a loop thread)
listener.close()
