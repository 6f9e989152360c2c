import CSelectors
import Selectors
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Unix-domain stream sockets: real socket files in a private temporary directory, removed
/// by every test; socket pairs; Linux abstract names.
@Suite struct UnixSocketTests {
    private static func send(_ fd: Int32, _ bytes: [UInt8]) throws -> Int? {
        try bytes.withUnsafeBytes { buffer in try Socket.write(fd, from: buffer) }
    }

    @Test func unixListenerAcceptsAConnectionAndBytesFlowBothWays() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try withDescriptors { fds in
            let address = try directory.socketAddress("echo.sock")
            let (listener, bound) = try Socket.makeListener(address: address)
            fds.adopt(listener)
            #expect(bound == address)
            #expect(bound.description == directory.file("echo.sock"))
            #expect(isNonBlocking(listener) && isCloseOnExec(listener))
            #expect(fileExists(directory.file("echo.sock")), "bind creates the socket file")

            let (client, pending) = try Socket.connect(to: address)
            fds.adopt(client)
            #expect(!pending)
            #expect(waitFor(listener))
            let server = fds.adopt(try #require(try Socket.accept(listener)))
            #expect(isNonBlocking(server) && isCloseOnExec(server) && isCloseOnExec(client))
            #expect(try SocketAddress.local(of: server) == address)
            #expect(try SocketAddress.peer(of: client) == address)
            let clientSide = try SocketAddress.peer(of: server)
            #expect(clientSide.family == .unix)
            #expect(clientSide.unixPath == nil)
            #expect(clientSide.description == "(unnamed)")

            #expect(try Self.send(client, Array("over unix".utf8)) == 9)
            #expect(waitFor(server))
            #expect(try descriptorRead(server) == Array("over unix".utf8))
            #expect(try Self.send(server, [1, 2]) == 2)
            #expect(waitFor(client))
            #expect(try descriptorRead(client) == [1, 2])
            try Socket.shutdownWrite(client)
            #expect(waitFor(server))
            #expect(try descriptorRead(server) == [], "half-close reads as end of stream")
        }
    }

    @Test func secondListenerOnALeftoverSocketFileFailsUnlessStaleRemovalIsAsked() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let address = try directory.socketAddress("stale.sock")
        let (first, _) = try Socket.makeListener(address: address)
        Socket.close(first)
        #expect(fileExists(address.unixPath!), "the socket file outlives the socket")
        #expect(throws: Errno.addressInUse) { try Socket.makeListener(address: address) }
        let (second, bound) = try Socket.makeListener(address: address, removingStaleSocketFile: true)
        defer { Socket.close(second) }
        #expect(bound == address)
    }

    @Test func staleRemovalLeavesALiveListenersSocketFileAlone() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try withDescriptors { fds in
            let address = try directory.socketAddress("live.sock")
            let (live, _) = try Socket.makeListener(address: address)
            fds.adopt(live)
            #expect(throws: Errno.addressInUse) {
                try Socket.makeListener(address: address, removingStaleSocketFile: true)
            }
            // The live listener is still reachable through its file.
            let (client, _) = try Socket.connect(to: address)
            fds.adopt(client)
            #expect(waitFor(live))
            // The probe of the removal check is queued first; both are plain connections.
            while let accepted = try Socket.accept(live) { fds.adopt(accepted) }
        }
    }

    @Test func staleRemovalNeverDeletesAFileThatIsNotASocket() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("data.txt")
        let file = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        #expect(file >= 0)
        _ = close(file)
        let address = try SocketAddress(unixPath: path)
        #expect(throws: Errno.addressInUse) {
            try Socket.makeListener(address: address, removingStaleSocketFile: true)
        }
        #expect(fileExists(path))
    }

    @Test func staleRemovalOfANonexistentPathJustListens() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (listener, _) = try Socket.makeListener(
            address: try directory.socketAddress("new.sock"), removingStaleSocketFile: true)
        Socket.close(listener)
    }

    @Test func connectToAMissingPathFailsWithENOENTAndToALeftoverFileIsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let missing = try directory.socketAddress("missing.sock")
        #expect(throws: Errno.noSuchFileOrDirectory) { try Socket.connect(to: missing) }
        let leftover = try directory.socketAddress("leftover.sock")
        let (listener, _) = try Socket.makeListener(address: leftover)
        Socket.close(listener)
        #expect(throws: Errno.connectionRefused) { try Socket.connect(to: leftover) }
    }

    @Test func unixAddressesPrintParseAndCompareByPath() throws {
        let address = try SocketAddress(unixPath: "/tmp/app.sock")
        #expect(address.family == .unix)
        #expect(address.unixPath == "/tmp/app.sock")
        #expect(address.description == "/tmp/app.sock")
        #expect(address.host == "/tmp/app.sock")
        #expect(address.port == 0)
        #expect(address.with(port: 80) == address)
        #expect(!address.isIPv4Loopback)
        #expect(try SocketAddress(parsing: "/tmp/app.sock") == address)
        #expect(try SocketAddress(unixPath: "relative.sock").description == "relative.sock")
        #expect(address != (try SocketAddress(unixPath: "/tmp/app.sock2")))
        #expect(Set([address, try SocketAddress(unixPath: "/tmp/app.sock")]).count == 1)
        #expect(SocketAddress.ipv4Loopback(port: 7).unixPath == nil)
    }

    @Test func unixPathsThatDoNotFitOrAreEmptyAreRefused() throws {
        // sun_path holds 108 bytes on Linux, 104 on Apple systems, the NUL included.
        let longest = try SocketAddress(unixPath: "/" + String(repeating: "a", count: 102))
        #expect(longest.unixPath?.utf8.count == 103)
        #expect(throws: Errno.fileNameTooLong) {
            try SocketAddress(unixPath: "/" + String(repeating: "a", count: 200))
        }
        #expect(throws: Errno.invalidArgument) { try SocketAddress(unixPath: "") }
        #expect(throws: Errno.invalidArgument) { try SocketAddress(unixPath: "/tmp/a\u{0}b") }
    }

    @Test func socketPairIsConnectedBothWaysAndHalfCloses() throws {
        try withDescriptors { fds in
            let (left, right) = try Socket.makePair()
            fds.adopt(left)
            fds.adopt(right)
            #expect(isNonBlocking(left) && isNonBlocking(right))
            #expect(isCloseOnExec(left) && isCloseOnExec(right))
            #expect(try SocketAddress.local(of: left).description == "(unnamed)")
            #expect(try Self.send(left, [1, 2, 3]) == 3)
            #expect(try descriptorRead(right) == [1, 2, 3])
            #expect(try Self.send(right, [4]) == 1)
            #expect(try descriptorRead(left) == [4])
            try Socket.shutdownWrite(left)
            #expect(try descriptorRead(right) == [])
            #expect(try Self.send(right, [5]) == 1, "the other direction stays open")
            #expect(try descriptorRead(left) == [5])

            let (blockingLeft, blockingRight) = try Socket.makePair(nonBlocking: false)
            fds.adopt(blockingLeft)
            fds.adopt(blockingRight)
            #expect(!isNonBlocking(blockingLeft) && isCloseOnExec(blockingRight))
        }
    }

    @Test func writeToAClosedSocketPairPeerThrowsEPIPEWithoutSIGPIPE() throws {
        try withDescriptors { fds in
            let (left, right) = try Socket.makePair()
            fds.adopt(left)
            fds.close(fds.adopt(right))
            // Without MSG_NOSIGNAL / SO_NOSIGPIPE this would kill the test process.
            #expect(throws: Errno.brokenPipe) { try Self.send(left, [1]) }
        }
    }

    // MARK: Linux abstract names

    #if os(Linux)
        @Test func abstractNameListensWithoutAFileAndPrintsWithAnAt() throws {
            try withDescriptors { fds in
                let name = "swift-selectors-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
                let address = try SocketAddress(abstractUnixName: name)
                #expect(address.description == "@" + name)
                #expect(address.abstractUnixName == name)
                #expect(address.unixPath == nil)
                let (listener, bound) = try Socket.makeListener(
                    address: address, removingStaleSocketFile: true)
                fds.adopt(listener)
                #expect(bound == address, "the kernel's copy compares equal")
                let (client, _) = try Socket.connect(to: address)
                fds.adopt(client)
                #expect(waitFor(listener))
                fds.adopt(try #require(try Socket.accept(listener)))
                #expect(throws: Errno.invalidArgument) { try SocketAddress(abstractUnixName: "") }
            }
        }
    #endif
}
