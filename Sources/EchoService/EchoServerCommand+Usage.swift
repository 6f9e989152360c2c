import Selectors

extension EchoServerCommand {
    /// The text `--help` prints.
    public static var usage: String {
        let backends = Backend.available.map(\.rawValue).joined(separator: "|")
        return """
            usage: echo-server [options]

            A TCP echo server: every byte a client sends is written back to it.

            options:
              --host ADDRESS          numeric IPv4 or IPv6 address to listen on, or localhost
                                      (default 127.0.0.1; for example ::1 or 0.0.0.0)
              --port PORT             TCP port, 0 to let the system pick a free one (default 7000)
              --backend NAME          \(backends) (default \(Backend.default))
              --trigger MODE          level|edge: how connections are watched (default level)
              --api API               callbacks|async: handlers, or a task per connection (default callbacks)
              --threads N             N event loops on their own threads, all watching the one
                                      listening socket (default 1)
              --max-connections N     close connections beyond N open ones at once (default: no limit)
              --idle-timeout SECONDS  close connections idle that long (default 0: never)
              --high-water BYTES      stop reading a client with more than BYTES waiting to be sent
                                      to it (default 262144)
              --low-water BYTES       read it again at BYTES or fewer (default 65536, or a quarter
                                      of --high-water when that is lower)
              --drain-timeout SECONDS on shutdown, how long to wait for pending data to be sent
                                      and clients to close (default 2)
              --backlog N             listen backlog; the system caps it (default 1024)
              --keepalive SECONDS     TCP keepalive: probe connections silent that long
                                      (default 0: off)
              --stats-interval SECONDS  log a line of statistics that often (default 0: never)
              --total-high-water BYTES  stop reading every client while the buffers of all of
                                      them together take more than BYTES (default 67108864)
              --total-low-water BYTES   read again at BYTES or fewer (default 50331648, or three
                                      quarters of --total-high-water when that is lower)
              --quiet                 no notices; the listening line, statistics asked for, the
                                      summary and errors still appear
              --version               print the version
              --help                  print this help
              --                      end of options

            Numbers are decimal digits; SECONDS may have a fraction (2.5).
            Notices go to standard error, each line starting with a UTC time; they never block
            the server: while standard error is not writable, up to 64 KiB wait and later lines
            are dropped and counted. Rejected connections, idle closes and backpressure pauses
            are logged at most once a second per loop, with a count of the rest.
            A connection closed while data is lost with it (output not yet sent, or input that
            will never be echoed: on shutdown, on a second signal, when closed idle) is reset
            rather than closed in order, so its client can tell it was cut off.

            signals:
              SIGINT, SIGTERM, SIGHUP  stop accepting, write out pending data (for up to
                                      --drain-timeout), print a summary, exit 0; a second one
                                      closes everything at once (SIGHUP stays ignored if it was
                                      ignored at start, as under nohup)
              SIGUSR1                 log a line of statistics
              SIGUSR2, SIGALRM        logged and ignored
              SIGQUIT                 exit at once with status 131, without draining, after one
                                      line with the statistics
              SIGPIPE                 ignored

            Exit status 1: the server could not start (for example, address in use);
            2: bad arguments.

            """
    }

    /// The text `--version` prints.
    public static var versionLine: String { "echo-server (swift-selectors) \(SelectorsPackage.version)\n" }
}
