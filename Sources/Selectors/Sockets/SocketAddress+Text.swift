internal import CSelectors

extension SocketAddress {
    /// Parses a numeric IPv4 or IPv6 host (`inet_pton`) and pairs it with `port`.
    ///
    /// Accepts dotted IPv4 (`"127.0.0.1"`), IPv6 with or without brackets (`"::1"`,
    /// `"[::1]"`), a scoped IPv6 address (`"fe80::1%2"`, or `"fe80::1%eth0"` through
    /// `if_nametoindex`), and `"localhost"`, which means `127.0.0.1`. No name lookup is done:
    /// other names are refused rather than blocking the caller on DNS.
    /// - Throws: `EINVAL` when `host` is not a numeric address (brackets around IPv4, a NUL
    ///   anywhere, an interface that does not exist included).
    public init(host: String, port: UInt16) throws(Errno) {
        var text = host
        // inet_pton reads a C string: text after a NUL would be ignored, not refused.
        guard !text.utf8.contains(0) else { throw Errno.invalidArgument }
        if text == "localhost" { text = "127.0.0.1" }
        if text.hasPrefix("["), text.hasSuffix("]") {
            text = String(text.dropFirst().dropLast())
            guard text.contains(":") else { throw Errno.invalidArgument }  // brackets are IPv6's
        }
        if text.contains(":") {
            var scope: UInt32 = 0
            if let percent = text.firstIndex(of: "%") {
                let name = String(text[text.index(after: percent)...])
                text = String(text[..<percent])
                if let number = UInt32(name), number > 0 {
                    scope = number
                } else {
                    scope = if_nametoindex(name)
                    guard scope != 0 else { throw Errno.invalidArgument }
                }
            }
            var address = in6_addr()
            guard inet_pton(AF_INET6, text, &address) == 1 else { throw Errno.invalidArgument }
            self.init(ipv6: address, port: port, scope: scope)
        } else {
            var address = in_addr()
            guard inet_pton(AF_INET, text, &address) == 1 else { throw Errno.invalidArgument }
            self.init(ipv4: address, port: port)
        }
    }

    /// Parses `"host:port"`, as printed by `description`: `"127.0.0.1:7000"`,
    /// `"localhost:7000"`, `"[::1]:7000"`. IPv6 hosts need the brackets, since their colons
    /// would be ambiguous with the port's. Text starting with `/` is an absolute Unix-domain
    /// socket path (`init(unixPath:)`), which no `host:port` can be.
    /// - Throws: `EINVAL` when the text has no valid port (0 to 65535) or no numeric host;
    ///   `ENAMETOOLONG` for a path too long for `sun_path`.
    public init(parsing text: String) throws(Errno) {
        if text.hasPrefix("/") {
            try self.init(unixPath: text)
            return
        }
        guard let colon = text.lastIndex(of: ":") else { throw Errno.invalidArgument }
        let host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        let bracketed = host.hasPrefix("[") && host.hasSuffix("]")
        guard bracketed || !host.contains(":"),
            !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
            let port = UInt16(portText)
        else { throw Errno.invalidArgument }
        try self.init(host: host, port: port)
    }

    /// The numeric host (`inet_ntop`): `"127.0.0.1"` or `"::1"`, without brackets. A Unix
    /// address has no host: it answers its `description` (the path), the most useful thing to
    /// print where a host is expected.
    public var host: String {
        if family == .unix { return description }
        // INET6_ADDRSTRLEN (46) covers both families, including the terminating NUL.
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
            let written: UnsafePointer<CChar>?
            switch family {
            case .ipv4:
                var address = withIPv4 { $0.sin_addr }
                written = inet_ntop(AF_INET, &address, buffer.baseAddress, socklen_t(buffer.count))
            case .ipv6:
                var address = withIPv6 { $0.sin6_addr }
                written = inet_ntop(AF_INET6, &address, buffer.baseAddress, socklen_t(buffer.count))
                let scope = withIPv6 { $0.sin6_scope_id }
                if let written, scope != 0 { return String(cString: written) + "%\(scope)" }
            case .unix:
                written = nil  // answered above
            }
            return written.map { String(cString: $0) } ?? "?"
        }
    }

    /// `"127.0.0.1:7000"` or `"[::1]:7000"`; `init(parsing:)` reads it back. A Unix address
    /// prints its path (`"/tmp/app.sock"`, read back too when absolute), `"@name"` for a Linux
    /// abstract name (the convention of `ss` and `netstat`) or `"(unnamed)"`.
    public var description: String {
        switch unixName {
        case nil: family == .ipv4 ? "\(host):\(port)" : "[\(host)]:\(port)"
        case .path(let path): path
        case .abstract(let name): "@" + String(decoding: name, as: UTF8.self)
        case .unnamed: "(unnamed)"
        }
    }
}
