// The one public API that hands out a C type (`sockaddr`), so this file imports the C library
// publicly; the rest of the module keeps its C imports internal.
#if canImport(SwiftGlibc)
    public import SwiftGlibc
#elseif canImport(Darwin)
    public import Darwin
#endif

extension SocketAddress {
    /// Calls `body` with a `sockaddr` pointer and its length, for C calls such as `bind`,
    /// `connect` or `sendto`. The pointer is valid only during the call.
    public func withSockaddrPointer<Result, Failure: Error>(
        _ body: (UnsafePointer<sockaddr>, socklen_t) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        var storage = self.storage
        // `sockaddr_storage` is laid out to be reinterpreted as any `sockaddr_*`: that is its
        // whole purpose, so the rebinding is sound for the duration of the call.
        return try withUnsafeMutablePointer(to: &storage) { (pointer) throws(Failure) -> Result in
            let raw = UnsafeRawPointer(pointer)
            return try body(raw.assumingMemoryBound(to: sockaddr.self), length)
        }
    }
}
