internal import CSelectors

// The error numbers the descriptor, Unix-domain and datagram helpers document, named as in
// swift-system.
extension Errno {
    /// `ENOTSOCK`: the descriptor is not a socket (for example `Socket.write` on a pipe).
    public static let notSocket = Errno(rawValue: ENOTSOCK)
    /// `ENAMETOOLONG`: a Unix-domain socket path does not fit in `sun_path`.
    public static let fileNameTooLong = Errno(rawValue: ENAMETOOLONG)
    /// `EAFNOSUPPORT`: the address family does not fit the socket, or is not supported.
    public static let addressFamilyNotSupported = Errno(rawValue: EAFNOSUPPORT)
    /// `EMSGSIZE`: a datagram is too large to send in one piece.
    public static let messageTooLong = Errno(rawValue: EMSGSIZE)
    /// `EIO`: an input/output error (a pty's controlling side reads it once the other side closed).
    public static let ioError = Errno(rawValue: EIO)
}
