import CSelectors
import Selectors
import Testing

/// `ResidentMemory.releaseStartUpPages` on mappings the test makes itself, which no other test
/// touches, so their resident sizes (from /proc/self/smaps) say exactly what it did. One test
/// at a time: a release acts on every mapping of the process, another test's too.
@Suite(.serialized) struct ResidentMemoryTests {
    #if os(Linux)
        @Test func readOnlyFilePagesLeaveAndWrittenOnesStay() throws {
            let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
            let length = 16 * pageSize
            let fd = try #require(temporaryFile(filledWith: 0x5A, count: length))
            defer { _ = close(fd) }

            // Read only, never written: released.
            let readOnly = try #require(map(fd, length, PROT_READ))
            defer { munmap(readOnly, length) }
            // Written, then made read-only (a relocated segment): kept, contents and all.
            let relocated = try #require(map(fd, length, PROT_READ | PROT_WRITE))
            defer { munmap(relocated, length) }

            var sum = 0
            for offset in stride(from: 0, to: length, by: pageSize) {
                sum += Int(readOnly.load(fromByteOffset: offset, as: UInt8.self))
                relocated.storeBytes(of: 0xA5, toByteOffset: offset, as: UInt8.self)
            }
            #expect(sum == 16 * 0x5A)
            #expect(mprotect(relocated, length, PROT_READ) == 0)
            #expect(residentKilobytes(of: readOnly) == length / 1024)

            #expect(ResidentMemory.releaseStartUpPages() >= length)

            #expect(residentKilobytes(of: readOnly) == 0, "the never-written read-only mapping left")
            #expect(residentKilobytes(of: relocated) == length / 1024, "the written one stayed")
            for offset in stride(from: 0, to: length, by: pageSize) {
                #expect(relocated.load(fromByteOffset: offset, as: UInt8.self) == 0xA5)
                // What left comes back from the file on the next read.
                #expect(readOnly.load(fromByteOffset: offset, as: UInt8.self) == 0x5A)
            }
        }

        /// Data a program may write to (its writable segment): the pages it only read are still
        /// the file's and go to reclaim (`MADV_PAGEOUT`); the ones it wrote are its own copies
        /// and stay, contents and all. The file is this mapping's alone: reclaim skips a page
        /// another mapping also holds.
        @Test func readPagesOfWritableFileMappingsLeaveAndWrittenOnesStay() throws {
            let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
            let length = 16 * pageSize
            let fd = try #require(temporaryFile(filledWith: 0x5A, count: length))
            defer { _ = close(fd) }
            // Written back, so reclaim finds clean pages it can free at once.
            #expect(fsync(fd) == 0)
            let data = try #require(map(fd, length, PROT_READ | PROT_WRITE))
            defer { munmap(data, length) }
            // Tests running alongside fork (`withForkedChildHolding`): a child would map these
            // pages a second time, and reclaim skips a page mapped twice.
            #expect(madvise(data, length, MADV_DONTFORK) == 0)
            var sum = 0
            for offset in stride(from: 0, to: length, by: pageSize) {
                sum += Int(data.load(fromByteOffset: offset, as: UInt8.self))
                if offset < length / 2 { data.storeBytes(of: 0xA5, toByteOffset: offset, as: UInt8.self) }
            }
            #expect(sum == 16 * 0x5A)
            #expect(residentKilobytes(of: data) == length / 1024)

            // Reclaim may pass over a page it cannot take at that moment (a large page-cache
            // folio it failed to split, a page still in another CPU's batch): a second call
            // takes it. What is asserted is that the read half can leave and the written half
            // never does.
            for _ in 0..<3 where residentKilobytes(of: data) != length / 2 / 1024 {
                ResidentMemory.releaseStartUpPages()
            }

            #expect(
                residentKilobytes(of: data) == length / 2 / 1024,
                "the written half stayed, the read half left")
            for offset in stride(from: 0, to: length, by: pageSize) {
                let expected: UInt8 = offset < length / 2 ? 0xA5 : 0x5A
                #expect(data.load(fromByteOffset: offset, as: UInt8.self) == expected)
            }
        }
    #else
        @Test func elsewhereItDoesNothing() {
            #expect(ResidentMemory.releaseStartUpPages() == 0)
        }
    #endif

    /// The test process is linked dynamically, so it has relocated read-only mappings of its
    /// own (the shared libraries' RELRO parts): had those been dropped, the calls into the
    /// libraries after the release would crash. A selector round trip checks that code comes back.
    @Test func theProcessGoesOnAfterwards() throws {
        ResidentMemory.releaseStartUpPages()
        try withDescriptors { fds in
            let selector = try Selector()
            defer { selector.close() }
            let (left, right) = try fds.socketPair()
            try selector.register(left, events: .read, handler: ignoreEvents)
            try writeAll(right, [1, 2, 3])
            let ready = try selector.select(timeout: .seconds(5))
            #expect(ready.map(\.key.fd) == [left])
        }
    }
}

#if os(Linux)
    /// A private mapping of `fd` with `protection`; nil if `mmap` failed.
    private func map(_ fd: Int32, _ length: Int, _ protection: Int32) -> UnsafeMutableRawPointer? {
        let address = mmap(nil, length, protection, MAP_PRIVATE, fd, 0)
        // MAP_FAILED, a macro Swift does not import, is (void *)-1.
        guard let address, address != UnsafeMutableRawPointer(bitPattern: -1) else { return nil }
        return address
    }

    /// An unlinked temporary file of `count` bytes of `byte`; nil if it could not be made.
    private func temporaryFile(filledWith byte: UInt8, count: Int) -> Int32? {
        var template = Array("/tmp/selectors-resident-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { return nil }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        let bytes = [UInt8](repeating: byte, count: count)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, count) }) == count else {
            _ = close(fd)
            return nil
        }
        return fd
    }

    /// The `Rss:` of the mapping that starts at `address`, in kB, from /proc/self/smaps.
    private func residentKilobytes(of address: UnsafeMutableRawPointer) -> Int? {
        guard let file = fopen("/proc/self/smaps", "re") else { return nil }
        defer { fclose(file) }
        let start = String(UInt(bitPattern: address), radix: 16)
        var line = [CChar](repeating: 0, count: 4096)
        var inEntry = false
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let dash = text.firstIndex(of: "-"), !text.hasPrefix("Rss:"),
                text[..<dash].allSatisfy(\.isHexDigit)
            {
                inEntry = text[..<dash] == start
            } else if inEntry, text.hasPrefix("Rss:") {
                return text.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            }
        }
        return nil
    }
#endif
