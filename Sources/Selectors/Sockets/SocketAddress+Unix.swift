internal import CSelectors

extension SocketAddress {
    /// A Unix-domain socket address for the filesystem path `path` (`sockaddr_un`, `AF_UNIX`).
    ///
    /// A relative path is resolved against the working directory at `bind` or `connect` time.
    /// `bind` creates the socket file and fails with `EADDRINUSE` if anything exists at the
    /// path; the file stays after the socket is closed (see `Socket.makeListener`'s
    /// `removingStaleSocketFile`, and remove it with `unlink` when done).
    /// - Throws: `EINVAL` when `path` is empty or contains a NUL byte; `ENAMETOOLONG` when its
    ///   UTF-8 bytes and a terminating NUL do not fit in `sun_path` (108 bytes on Linux, 104
    ///   on Apple systems).
    public init(unixPath path: String) throws(Errno) {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, !bytes.contains(0) else { throw Errno.invalidArgument }
        guard bytes.count < SocketAddress.unixPathCapacity else { throw Errno.fileNameTooLong }
        self.init(unixPathBytes: bytes, terminated: true)
    }

    /// The filesystem path of a Unix-domain address; `nil` for IP addresses and for Unix
    /// addresses without a path (unnamed, or abstract on Linux).
    public var unixPath: String? {
        guard case .path(let path) = unixName else { return nil }
        return path
    }

    /// What a Unix-domain address names, decoded from `sun_path`.
    enum UnixName: Equatable {
        /// A filesystem path.
        case path(String)
        /// A Linux abstract name: the bytes after the leading NUL, which may be anything.
        case abstract([UInt8])
        /// No name: the client end of a connection that never bound, or a socket pair.
        case unnamed
    }

    /// The name of a Unix-domain address; `nil` for IP addresses.
    var unixName: UnixName? {
        guard family == .unix else { return nil }
        let count = Int(length) - SocketAddress.unixPathOffset
        guard count > 0 else { return .unnamed }
        return withUnsafeBytes(of: storage) { raw in
            let bytes = raw[SocketAddress.unixPathOffset..<(SocketAddress.unixPathOffset + count)]
            guard bytes.first != 0 else { return .abstract(Array(bytes.dropFirst())) }
            return .path(String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self))
        }
    }

    /// `sun_path` holds `bytes` (a path, or a NUL then an abstract name), followed by a NUL if
    /// `terminated`; the rest of the storage stays zero.
    init(unixPathBytes bytes: [UInt8], terminated: Bool) {
        var storage = sockaddr_storage()
        storage.ss_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage) { raw in
            UnsafeMutableRawBufferPointer(rebasing: raw[SocketAddress.unixPathOffset...]).copyBytes(
                from: bytes)
        }
        let length = SocketAddress.unixPathOffset + bytes.count + (terminated ? 1 : 0)
        self.init(exactly: storage, length: socklen_t(length))
    }

    /// Where `sun_path` starts in `sockaddr_un` (2 on Linux, after `sun_family`; 2 on Apple
    /// systems too, after `sun_len` and `sun_family`).
    static var unixPathOffset: Int { MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! }

    /// How many bytes `sun_path` holds, the terminating NUL included.
    static var unixPathCapacity: Int { MemoryLayout<sockaddr_un>.size - unixPathOffset }

    /// The meaningful length of a Unix address the kernel reported as `reported` bytes.
    ///
    /// Linux reports a path's offset, bytes and NUL; Apple systems may report the whole
    /// structure. Both become "offset + path + NUL", so addresses compare equal whichever call
    /// produced them. An empty `sun_path` means unnamed; one starting with NUL is an abstract
    /// name on Linux, which counts every reported byte, and unnamed elsewhere.
    static func unixLength(of storage: sockaddr_storage, reported: socklen_t) -> socklen_t {
        let count = min(Int(reported) - unixPathOffset, unixPathCapacity)
        guard count > 0 else { return socklen_t(unixPathOffset) }
        return withUnsafeBytes(of: storage) { raw in
            let bytes = raw[unixPathOffset..<(unixPathOffset + count)]
            if bytes.first == 0 {
                let abstract = SocketPlatform.hasAbstractUnixNames && count > 1
                return socklen_t(abstract ? unixPathOffset + count : unixPathOffset)
            }
            let pathCount = bytes.firstIndex(of: 0).map { $0 - unixPathOffset } ?? count
            // A path that fills sun_path has no room for its NUL (only C callers bind those).
            return socklen_t(unixPathOffset + min(pathCount + 1, unixPathCapacity))
        }
    }
}
