#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    internal import CSelectors

    /// Linux's abstract Unix-domain names: sockets named outside the filesystem. They need no
    /// writable directory, leave no file behind (the name goes when the last socket closes)
    /// and are never stale; they are visible to every process in the network namespace and
    /// guarded by no file permission. Other systems have no such thing, hence a Linux-only API.
    extension SocketAddress {
        /// The abstract Unix-domain name `name` (`sun_path` is a NUL, then the name's bytes,
        /// with no terminator; every byte counts, so `"app"` and `"app\0"` are different names).
        /// - Throws: `EINVAL` when `name` is empty; `ENAMETOOLONG` when it is longer than 107
        ///   bytes.
        public init(abstractUnixName name: String) throws(Errno) {
            let bytes = Array(name.utf8)
            guard !bytes.isEmpty else { throw Errno.invalidArgument }
            guard bytes.count < SocketAddress.unixPathCapacity else { throw Errno.fileNameTooLong }
            self.init(unixPathBytes: [0] + bytes, terminated: false)
        }

        /// The abstract name of a Linux abstract Unix-domain address (without the leading NUL);
        /// `nil` for any other address.
        public var abstractUnixName: String? {
            guard case .abstract(let bytes) = unixName else { return nil }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
#endif
