import Glibc
import Selectors
import Testing

/// http-hello (Examples/HTTPHello), run as a child process with two loops, against bounded
/// HTTP clients written here (the expected answers are spelt out byte for byte, not taken from
/// the program).
extension ExampleProgramTests {
    /// 1,000 requests, each on a new connection, then 10,000 pipelined on 50 keep-alive
    /// connections at once (200 each, sent in pieces of random sizes that cut requests
    /// anywhere); every answer is checked byte for byte, and every stream must end with an
    /// orderly end of stream, never a reset. Afterwards the server holds exactly the
    /// descriptors it held before the first client.
    @Test(arguments: Backend.available)
    func httpHelloAnswersSequentialAndPipelinedRequestsExactlyAndLeaksNoDescriptor(backend: Backend) throws {
        let (child, address) = try startListeningExample("http-hello", "0 2 \(backend)")
        defer {
            kill(child.pid, SIGKILL)
            _ = child.waitForExit(timeout: 5)
        }
        let idleDescriptors = openDescriptors(of: child.pid)

        // Each request is answered, then the server ends the stream (HTTP/1.0 closes unless
        // asked not to; so does an HTTP/1.1 request here, since the answer is HTTP/1.0).
        let oneShots: [(request: String, response: String)] = [
            ("GET / HTTP/1.0\r\n\r\n", HTTPAnswer.hello),
            (
                "GET /index.html?q=1 HTTP/1.0\r\nHost: example\r\nUser-Agent: test/1.0\r\nAccept: */*\r\n\r\n",
                HTTPAnswer.hello
            ),
            ("GET / HTTP/1.1\r\nHost: example\r\n\r\n", HTTPAnswer.hello),
            ("HEAD / HTTP/1.0\r\n\r\n", HTTPAnswer.head),
            ("GET / HTTP/1.0\r\nConnection: close\r\n\r\n", HTTPAnswer.hello),
        ]
        for index in 0..<1000 {
            let (request, response) = oneShots[index % oneShots.count]
            let fd = try Client.connect(address)
            defer { Socket.close(fd) }
            try TimedIO.send(fd, request)
            let (bytes, reset) = try TimedIO.readToEnd(fd, timeout: 10)
            guard !reset, bytes.elementsEqual(response.utf8) else {
                throw TestFailure(
                    "request \(index): \(reset ? "reset" : "end") after '\(String(decoding: bytes, as: UTF8.self))'"
                )
            }
        }

        // Kept alive: every form of asking for it, bare LF line ends too.
        let keptAlive: [(request: String, response: String)] = [
            ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", HTTPAnswer.helloKeepAlive),
            ("GET /a HTTP/1.1\r\nHost: example\r\nConnection: Keep-Alive\r\n\r\n", HTTPAnswer.helloKeepAlive),
            ("GET /lf HTTP/1.0\nconnection:keep-alive\n\n", HTTPAnswer.helloKeepAlive),
            ("HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", HTTPAnswer.headKeepAlive),
            (
                "GET / HTTP/1.0\r\nAccept: */*\r\nConnection: TE, keep-alive\r\n\r\n",
                HTTPAnswer.helloKeepAlive
            ),
        ]
        let failures = onThreads(10) { thread in
            var random = SplitMix64(seed: UInt64(thread + 1))
            let sockets = ClientSockets()
            defer { sockets.closeAll() }
            // Five connections per thread, all open at once; the last of 200 requests on each
            // does not ask to keep the connection, so the server ends the stream after it.
            var connections: [(fd: Int32, request: [UInt8], sent: Int, response: [UInt8])] = []
            for _ in 0..<5 {
                var request = ""
                var response = ""
                for _ in 0..<199 {
                    let pair = keptAlive[Int(random.next() % UInt64(keptAlive.count))]
                    request += pair.request
                    response += pair.response
                }
                request += "GET /last HTTP/1.0\r\n\r\n"
                response += HTTPAnswer.hello
                connections.append(
                    (try sockets.connect(address), Array(request.utf8), 0, Array(response.utf8)))
            }
            // The requests go out in pieces of 1 to 1,500 bytes, taking turns between the
            // connections, so pieces end anywhere in a request and the server sees them
            // arrive over many reads.
            while connections.contains(where: { $0.sent < $0.request.count }) {
                for index in connections.indices
                where connections[index].sent < connections[index].request.count {
                    let start = connections[index].sent
                    let end = min(connections[index].request.count, start + 1 + Int(random.next() % 1500))
                    try TimedIO.send(connections[index].fd, Array(connections[index].request[start..<end]))
                    connections[index].sent = end
                }
            }
            for (number, connection) in connections.enumerated() {
                let (bytes, reset) = try TimedIO.readToEnd(connection.fd, timeout: 20)
                guard !reset, bytes == connection.response else {
                    let same = zip(bytes, connection.response).prefix { $0 == $1 }.count
                    throw TestFailure(
                        "connection \(number): \(reset ? "reset" : "end") after \(bytes.count) of "
                            + "\(connection.response.count) bytes, the first \(same) right")
                }
            }
        }
        #expect(failures.isEmpty, "\(failures)")
        #expect(
            eventually(timeout: 5) { openDescriptors(of: child.pid) == idleDescriptors },
            "\(openDescriptors(of: child.pid)) vs \(idleDescriptors)")
        #expect(!child.hasExited)
    }

    /// Malformed requests get 400 and the end of the stream; other methods 501; a request
    /// that arrives a byte at a time is still one request; a request cut short by the client
    /// gets nothing. Then SIGTERM with an idle keep-alive client connected: the server closes
    /// it at once (not at the 2 s drain deadline) and exits with status 0.
    @Test(arguments: Backend.available)
    func httpHelloRefusesMalformedRequestsAndStopsCleanlyOnSIGTERM(backend: Backend) throws {
        let (child, address) = try startListeningExample("http-hello", "0 2 \(backend)")
        defer {
            kill(child.pid, SIGKILL)
            _ = child.waitForExit(timeout: 5)
        }
        let idleDescriptors = openDescriptors(of: child.pid)
        let exchanges: [(request: String, response: String)] = [
            ("GARBAGE\r\n\r\n", HTTPAnswer.badRequest),
            ("GET /\r\n\r\n", HTTPAnswer.badRequest),
            ("GET / HTTP/2.0\r\n\r\n", HTTPAnswer.badRequest),
            ("GET  / HTTP/1.0\r\n\r\n", HTTPAnswer.badRequest),
            ("GET / HTTP/1.0 extra\r\n\r\n", HTTPAnswer.badRequest),
            ("GET / HTTP/1.0\r\nNo colon here\r\n\r\n", HTTPAnswer.badRequest),
            ("GET / HTTP/1.0\r\nBad Name: x\r\n\r\n", HTTPAnswer.badRequest),
            ("GET / HTTP/1.0\r\n: no name\r\n\r\n", HTTPAnswer.badRequest),
            ("GET / HTTP/1.0\r\nX-Filler: " + String(repeating: "a", count: 9000), HTTPAnswer.badRequest),
            ("POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc", HTTPAnswer.notImplemented),
            ("\r\n\r\nGET / HTTP/1.0\r\n\r\n", HTTPAnswer.hello),  // blank lines before: skipped
            // Answered in order up to the bad one; nothing after it.
            (
                "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nBAD\r\n\r\nGET / HTTP/1.0\r\n\r\n",
                HTTPAnswer.helloKeepAlive + HTTPAnswer.badRequest
            ),
        ]
        for (request, response) in exchanges {
            let fd = try Client.connect(address)
            defer { Socket.close(fd) }
            try TimedIO.send(fd, request)
            let (bytes, reset) = try TimedIO.readToEnd(fd, timeout: 10)
            #expect(!reset && bytes.elementsEqual(response.utf8), "\(request.prefix(60).debugDescription)")
        }

        // A byte at a time, then a second request on the same connection.
        do {
            let fd = try Client.connect(address)
            defer { Socket.close(fd) }
            for byte in "GET /slow HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".utf8 {
                try TimedIO.send(fd, [byte])
                usleep(500)
            }
            try TimedIO.expect(fd, HTTPAnswer.helloKeepAlive)
            try TimedIO.send(fd, "GET / HTTP/1.0\r\n\r\n")
            let (bytes, reset) = try TimedIO.readToEnd(fd)
            #expect(!reset && bytes.elementsEqual(HTTPAnswer.hello.utf8))
        }

        // Half a request, then the client's end of stream: no answer, just the end.
        do {
            let fd = try Client.connect(address)
            defer { Socket.close(fd) }
            try TimedIO.send(fd, "GET / HTTP/1.0\r\nHost: exa")
            try Socket.shutdownWrite(fd)
            let (bytes, reset) = try TimedIO.readToEnd(fd)
            #expect(!reset && bytes.isEmpty)
        }
        #expect(
            eventually(timeout: 5) { openDescriptors(of: child.pid) == idleDescriptors },
            "\(openDescriptors(of: child.pid)) vs \(idleDescriptors)")

        // An idle keep-alive client does not hold up SIGTERM.
        let fd = try Client.connect(address)
        defer { Socket.close(fd) }
        try TimedIO.send(fd, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        try TimedIO.expect(fd, HTTPAnswer.helloKeepAlive)
        let signalled = now()
        child.signal(SIGTERM)
        let (bytes, _) = try TimedIO.readToEnd(fd, timeout: 5)
        #expect(bytes.isEmpty)
        let status = child.waitForExit(timeout: 5)
        let stopTime = now() - signalled
        #expect(status.flatMap(ChildProcess.exitCode) == 0, "\(child.stderrText)")
        #expect(stopTime < 1.5, "stopped after \(stopTime) s")
    }

    @Test func httpHelloAnswersBadArgumentsWithUsageAndStatusTwo() throws {
        let path = try builtExecutable("http-hello")
        // 17 loops and more used to trap (onSignal EINVAL): a signal reaches at most 16 loops.
        for arguments in ["70000", "0 0", "0 two", "0 2 nosuch", "0 2 epoll extra", "0 17", "0 64"] {
            let child = try ChildProcess(shell: "exec '\(path)' \(arguments)")
            let status = child.waitForExit(timeout: 10)
            #expect(status.flatMap(ChildProcess.exitCode) == 2, "\(arguments)")
            #expect(child.stderrText.hasPrefix("usage: http-hello [PORT]"), "\(arguments)")
            #expect(child.stdoutText.isEmpty, "\(arguments)")
        }
    }
}

/// The answers http-hello must give, spelt out.
private enum HTTPAnswer {
    static let helloKeepAlive =
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: keep-alive\r\n\r\nhello\n"
    static let hello =
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n"
    static let headKeepAlive =
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: keep-alive\r\n\r\n"
    static let head =
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: close\r\n\r\n"
    static let badRequest =
        "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\n"
        + "bad request\n"
    static let notImplemented =
        "HTTP/1.0 501 Not Implemented\r\nContent-Type: text/plain\r\nContent-Length: 17\r\nConnection: close\r\n\r\n"
        + "GET or HEAD only\n"
}
