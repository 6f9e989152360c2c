import CSelectors
import Selectors
import Testing

@Suite struct ResidentMemoryTests {
    /// The test process is linked dynamically, so its read-only mappings include relocated
    /// ones (the shared libraries' RELRO parts): had those been dropped, the calls into the
    /// libraries after the release would crash. The round trip checks that code comes back.
    @Test func releasingStartUpPagesShrinksFileBackedMemoryAndTheProcessGoesOn() throws {
        #if os(Linux)
            let before = try #require(residentKilobytes("RssFile:"))
            let released = ResidentMemory.releaseStartUpPages()
            let after = try #require(residentKilobytes("RssFile:"))
            #expect(released > 0)
            // Other tests running meanwhile bring some code back, far less than was released.
            #expect(after < before, "file-backed resident memory \(before) kB before, \(after) kB after")
        #else
            #expect(ResidentMemory.releaseStartUpPages() == 0)
        #endif
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

    @Test func writtenMemoryKeepsItsContents() {
        ResidentMemoryTests.written = 0x5EED
        ResidentMemory.releaseStartUpPages()
        #expect(ResidentMemoryTests.written == 0x5EED)
    }

    nonisolated(unsafe) static var written = 0
}

/// A `/proc/self/status` field in kB (`RssFile:`, `VmRSS:`).
private func residentKilobytes(_ field: String) -> Int? {
    guard let file = fopen("/proc/self/status", "re") else { return nil }
    defer { fclose(file) }
    var buffer = [UInt8](repeating: 0, count: 16 * 1024)
    let count = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
    let status = String(decoding: buffer[..<count], as: UTF8.self)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) }) else { return nil }
    return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
}
