internal import CSelectors

extension Socket {
    /// Deletes the socket file at `path` (`unlink`) if it is stale: a socket file (`lstat`)
    /// that refuses a connection (`ECONNREFUSED`), so no listener is behind it. Anything else
    /// is left in place: a missing file, a file of another kind (a mistyped path must never
    /// delete a user's data), a socket that accepts or whose backlog is full.
    static func removeStaleSocketFile(at path: String) throws(Errno) {
        let kind = cselectors_path_is_socket(path)
        if kind < 0 {
            let error = Errno.current
            if error == .noSuchFileOrDirectory { return }
            throw error
        }
        guard kind == 1 else { return }
        let address = try SocketAddress(unixPath: path)
        do {
            // Non-blocking, so a live listener with a full backlog answers EAGAIN at once
            // instead of holding the caller.
            let (probe, _) = try connect(to: address, nonBlocking: true)
            SystemCall.close(probe)
        } catch {
            guard error == .connectionRefused else { return }
            if unlink(path) != 0, Errno.current != .noSuchFileOrDirectory { throw Errno.current }
        }
    }
}
