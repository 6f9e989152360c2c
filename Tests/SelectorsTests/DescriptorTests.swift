import CSelectors
import Selectors
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `Descriptor`: read(2)/write(2) on descriptors that are not sockets, and `makePipe`.
@Suite struct DescriptorTests {
    @Test func socketWriteOnAPipeFailsWithENOTSOCKWhileDescriptorWriteWorks() throws {
        try withDescriptors { fds in
            let (readEnd, writeEnd) = try Descriptor.makePipe()
            fds.adopt(readEnd)
            fds.adopt(writeEnd)
            // The asymmetry this guards: Socket.write is send(2), which only sockets accept.
            #expect(throws: Errno.notSocket) {
                try [UInt8(1), 2, 3].withUnsafeBytes { buffer in try Socket.write(writeEnd, from: buffer) }
            }
            #expect(try descriptorWrite(writeEnd, Array("through the pipe".utf8)) == 16)
            #expect(try descriptorRead(readEnd, limit: 7) == Array("through".utf8))
            // Socket.read is read(2), so it reads pipes too.
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = try buffer.withUnsafeMutableBytes { raw in try Socket.read(readEnd, into: raw) }
            #expect(count.map { Array(buffer.prefix($0)) } == Array(" the pipe".utf8))
        }
    }

    @Test func makePipeEndsAreCloseOnExecAndNonBlockingByDefault() throws {
        try withDescriptors { fds in
            let (readEnd, writeEnd) = try Descriptor.makePipe()
            fds.adopt(readEnd)
            fds.adopt(writeEnd)
            for fd in [readEnd, writeEnd] {
                #expect(isCloseOnExec(fd))
                #expect(isNonBlocking(fd))
            }
            let (blockingRead, blockingWrite) = try Descriptor.makePipe(nonBlocking: false)
            fds.adopt(blockingRead)
            fds.adopt(blockingWrite)
            for fd in [blockingRead, blockingWrite] {
                #expect(isCloseOnExec(fd))
                #expect(!isNonBlocking(fd))
            }
            try Descriptor.setNonBlocking(blockingRead)
            #expect(isNonBlocking(blockingRead))
            try Descriptor.setNonBlocking(blockingRead, false)
            #expect(!isNonBlocking(blockingRead))
        }
    }

    @Test func emptyPipeReadsNilAndReadsZeroOnceTheWriterIsClosed() throws {
        try withDescriptors { fds in
            let (readEnd, writeEnd) = try Descriptor.makePipe()
            fds.adopt(readEnd)
            fds.adopt(writeEnd)
            #expect(try descriptorRead(readEnd) == nil, "would block, not end of stream")
            #expect(try descriptorWrite(writeEnd, [7]) == 1)
            fds.close(writeEnd)
            #expect(try descriptorRead(readEnd) == [7], "bytes written before the close still arrive")
            // Another test's child may hold a copy of the write end for a moment (between its
            // fork and its exec, which closes it): the end of stream comes when that goes.
            #expect(readOnceWhenReady(readEnd, limit: .seconds(5)) == .endOfFile, "then end of stream")
            #expect(try descriptorRead(readEnd) == [], "and again")
        }
    }

    @Test func fullPipeWriteReturnsNilInsteadOfBlockingOrThrowing() throws {
        try withDescriptors { fds in
            let (readEnd, writeEnd) = try Descriptor.makePipe()
            fds.adopt(readEnd)
            fds.adopt(writeEnd)
            let chunk = [UInt8](repeating: 0x42, count: 65_536)
            var total = 0
            while let written = try descriptorWrite(writeEnd, chunk) { total += written }
            #expect(total > 0)
            // Room again once the reader takes some.
            var drained = 0
            while let bytes = try descriptorRead(readEnd, limit: 65_536), !bytes.isEmpty {
                drained += bytes.count
            }
            #expect(drained == total, "every byte the write reported arrived")
            #expect(try descriptorWrite(writeEnd, [1]) == 1)
        }
    }

    /// Runs in a child process: the signal would end the whole test run.
    @Test func writeToAPipeWithoutReaderRaisesSIGPIPEUnlessTheProcessIgnoresIt() async {
        await #expect(processExitsWith: .signal(SIGPIPE)) {
            // The default disposition, whatever the parent process had.
            _ = signal(SIGPIPE, SIG_DFL)
            guard let (readEnd, writeEnd) = try? Descriptor.makePipe() else { exit(10) }
            Descriptor.close(readEnd)
            _ = try? descriptorWrite(writeEnd, [1])
            exit(11)
        }
    }

    @Test func writeToAPipeWithoutReaderThrowsEPIPEOnceBrokenPipeSignalIsIgnored() async {
        await #expect(processExitsWith: .success) {
            Descriptor.ignoreBrokenPipeSignal()
            guard let (readEnd, writeEnd) = try? Descriptor.makePipe() else { exit(10) }
            Descriptor.close(readEnd)
            do {
                _ = try descriptorWrite(writeEnd, [1])
                exit(11)
            } catch {
                exit(error as? Errno == .brokenPipe ? 0 : 12)
            }
        }
    }

    @Test func regularFileReadsAndWritesThroughDescriptor() throws {
        try withDescriptors { fds in
            let fd = try fds.regularFile()
            #expect(throws: Errno.notSocket) {
                try [UInt8(1)].withUnsafeBytes { buffer in try Socket.write(fd, from: buffer) }
            }
            #expect(try descriptorWrite(fd, Array("file contents".utf8)) == 13)
            #expect(lseek(fd, 0, SEEK_SET) == 0)
            #expect(try descriptorRead(fd) == Array("file contents".utf8))
            #expect(try descriptorRead(fd) == [], "end of file")
        }
    }

    /// A number at or above the descriptor limit is never open, so no test running in
    /// parallel can have been given it (a number just closed could be reused at once).
    @Test(arguments: [descriptorLimit, Int32.max, -1])
    func operationsOnADescriptorThatIsNotOpenThrowEBADF(fd: Int32) throws {
        #expect(throws: Errno.badFileDescriptor) { try descriptorRead(fd) }
        #expect(throws: Errno.badFileDescriptor) { try descriptorWrite(fd, [1]) }
        #expect(throws: Errno.badFileDescriptor) { try Descriptor.setNonBlocking(fd) }
    }

    // MARK: ptys

    /// A pseudo-terminal pair (`/dev/ptmx`, then its `/dev/pts/N`), both non-blocking and
    /// close-on-exec; nil where the system has no Linux-style ptys. `posix_openpt` and
    /// `unlockpt` are not in Swift's Glibc module, so this does what they do with `ioctl`.
    static func openPty() -> (controller: Int32, terminal: Int32)? {
        #if os(Linux)
            let controller = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK)
            guard controller >= 0 else { return nil }
            // _IOW('T', 0x31, int) and _IOR('T', 0x30, unsigned int), in the generic encoding
            // (x86-64, arm64): direction << 30 | size << 16 | type << 8 | number.
            let unlockRequest = UInt(1 << 30 | 4 << 16 | 0x54 << 8 | 0x31)
            let numberRequest = UInt(2 << 30 | 4 << 16 | 0x54 << 8 | 0x30)
            var unlock: Int32 = 0
            var number: UInt32 = 0
            guard ioctl(controller, unlockRequest, &unlock) == 0,
                ioctl(controller, numberRequest, &number) == 0
            else {
                _ = close(controller)
                return nil
            }
            let terminal = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK)
            guard terminal >= 0 else {
                _ = close(controller)
                return nil
            }
            return (controller, terminal)
        #else
            return nil
        #endif
    }

    static let ptysAvailable: Bool = {
        guard let (controller, terminal) = openPty() else { return false }
        _ = close(controller)
        _ = close(terminal)
        return true
    }()

    @Test(.enabled(if: ptysAvailable, "no /dev/ptmx with Linux pty ioctls here"))
    func ptyControllerReadsWhatTheTerminalWritesThenEIOOnceItCloses() throws {
        try withDescriptors { fds in
            let (controller, terminal) = try #require(Self.openPty())
            fds.adopt(controller)
            fds.adopt(terminal)
            #expect(throws: Errno.notSocket) {
                try [UInt8(1)].withUnsafeBytes { buffer in try Socket.write(terminal, from: buffer) }
            }
            #expect(try descriptorWrite(terminal, Array("ping".utf8)) == 4)
            #expect(waitFor(controller))
            #expect(try descriptorRead(controller) == Array("ping".utf8))
            fds.close(terminal)
            // Not 0 as a pipe would read: Linux reports the hang-up of a pty as EIO.
            #expect(waitFor(controller))
            #expect(throws: Errno.ioError) { try descriptorRead(controller) }
        }
    }
}
