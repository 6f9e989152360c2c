import Glibc  // posix_spawn, waitpid, fcntl, exit (import Darwin on macOS)
import Selectors

// Runs a shell command and watches its output and this program's standard input at once, on
// one loop, printing each line with where it came from. Once both have ended it waits for the
// command and exits with its status. For example:
//
//   (echo hello; sleep 1; echo bye) | pipe-watcher 'for i in 1 2 3; do echo $i; sleep 0.4; done'
//
// usage: pipe-watcher [--backend epoll|poll|select] COMMAND

var arguments = Array(CommandLine.arguments.dropFirst())
var chosenBackend: Backend?
var backendKnown = true
if arguments.count == 3, arguments[0] == "--backend" {
    chosenBackend = Backend(name: arguments[1])
    backendKnown = chosenBackend?.isAvailable ?? false  // a name not known is refused, not ignored
    arguments.removeFirst(2)
}
// A COMMAND that starts with "-" is an option mistyped (--help, --backend without a name).
guard arguments.count == 1, !arguments[0].hasPrefix("-"), backendKnown else {
    let usage = "usage: pipe-watcher [--backend epoll|poll|select] COMMAND\n"
    _ = write(2, usage, usage.utf8.count)  // standard error, as for every error
    exit(2)
}

/// Starts `/bin/sh -c command` with its standard output on a new pipe, and its standard input
/// on /dev/null (ours is read here). Returns the child's pid and the pipe's read end.
func spawnShell(_ command: String) throws -> (pid: pid_t, output: Int32) {
    // The child's end stays blocking, as programs expect; ours is made non-blocking below.
    // Both are close-on-exec: only the dup2 below gives the child a copy, as its fd 1.
    let pipe = try Descriptor.makePipe(nonBlocking: false)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, pipe.write, 1)
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    let words: [String] = ["/bin/sh", "-c", command]
    let argv = words.map { strdup($0) } + [nil]
    defer { for argument in argv { free(argument) } }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, "/bin/sh", &actions, nil, argv, environ)
    Descriptor.close(pipe.write)  // the child holds the write end now: its exit ends our input
    guard result == 0 else {
        Descriptor.close(pipe.read)
        throw Errno(rawValue: result)
    }
    try Descriptor.setNonBlocking(pipe.read)
    return (pid, pipe.read)
}

/// Writes all of `bytes` to `fd` (standard output unless told), however many calls that takes.
/// It blocks: if whoever reads our output is slow, so are we, and the child then waits on its
/// full pipe.
func writeAll(_ bytes: [UInt8], to fd: Int32 = 1) {
    bytes.withUnsafeBytes { buffer in
        var rest = buffer[...]
        while !rest.isEmpty {
            do {
                if let written = try Descriptor.write(fd, from: UnsafeRawBufferPointer(rebasing: rest)) {
                    rest = rest.dropFirst(written)
                } else {  // a non-blocking fd (someone else's choice) is full: wait for room
                    var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&entry, 1, -1)
                }
            } catch {
                exit(1)  // our output is gone: nobody is left to tell
            }
        }
    }
}

/// Whether `backend` can watch `fd`. epoll refuses regular files and /dev/null (`EPERM`),
/// which poll and select report as always readable. True when no selector can be made to
/// ask (out of descriptors, say): making the loop then fails and says why.
func canWatch(_ fd: Int32, with backend: Backend) -> Bool {
    guard let selector = try? Selector(backend: backend) else { return true }
    defer { selector.close() }
    return (try? selector.register(fd, events: .read) { _, _ in }) != nil
}

// Standard input is read through a copy of fd 0, made non-blocking (which changes it for
// everyone sharing it, a terminal's shell too: restored at the end) and closed at its end.
let stdinFlags = fcntl(0, F_GETFL)
let input = fcntl(0, F_DUPFD_CLOEXEC, 0)  // -1 when there is no standard input at all
let backend = chosenBackend ?? (input < 0 || canWatch(input, with: .default) ? .default : .poll)
if input >= 0, !canWatch(input, with: backend) {
    writeAll(Array("pipe-watcher: \(backend) cannot watch standard input (a file?): use poll\n".utf8), to: 2)
    exit(2)
}

/// Says on standard error what failed, puts standard input back as it was, and exits with
/// status 1 (an error thrown out here, at the top level, would crash the program instead).
func fail(_ message: String) -> Never {
    if input >= 0 { _ = fcntl(0, F_SETFL, stdinFlags) }
    writeAll(Array("pipe-watcher: \(message)\n".utf8), to: 2)
    exit(1)
}

let io: IsolatedEventLoop
do { io = try EventLoop(backend: backend).assumeIsolated() } catch { fail("\(error)") }

/// Each open source: the prefix of its lines, and its unfinished line.
var sources: [Connection: (prefix: String, partial: [UInt8])] = [:]

/// The most of an unfinished line held back for its newline: a line that reaches it is printed
/// in pieces of this size, each with the prefix, so a source that never sends a newline (a
/// binary file, a stream of zeros) cannot make the watcher hold all of it in memory.
let longestLine = 64 * 1024

let watched: Connections
do {
    watched = try Connections(loop: io) { source, event in
        // Taken out while it changes: a copy left in `sources` would make every append copy the
        // whole unfinished line, and a long line would take time quadratic in its length.
        guard case (let prefix, var partial)? = sources.removeValue(forKey: source) else { return }
        switch event {
        case .received(let bytes):
            let searched = partial.count  // what was searched for a newline before
            partial += bytes
            let newline = UInt8(ascii: "\n")
            var text: [UInt8] = []
            if let end = partial[searched...].lastIndex(of: newline) {
                for line in partial[..<end].split(separator: newline, omittingEmptySubsequences: false) {
                    text += prefix.utf8 + line + [newline]
                }
                partial.removeSubrange(...end)
            }
            while partial.count >= longestLine {
                text += prefix.utf8 + partial[..<longestLine] + [newline]
                partial.removeSubrange(..<longestLine)
            }
            if !text.isEmpty { writeAll(text) }
        case .closed(let end):
            if !partial.isEmpty { writeAll(Array(prefix.utf8) + partial + [UInt8(ascii: "\n")]) }
            if case .failed(let error) = end {
                writeAll(Array("\(prefix)read failed: \(error)\n".utf8), to: 2)
            }
            sources[source] = nil
            if sources.isEmpty { io.stop() }  // both ended
            return
        default:
            break  // .endOfInput: the connection closes by itself next
        }
        sources[source] = (prefix, partial)
    }
} catch {
    fail("\(error)")
}

let child: (pid: pid_t, output: Int32)
do {
    child = try spawnShell(arguments[0])
} catch {
    fail("cannot run /bin/sh: \(error)")
}
do {
    sources[try watched.adopt(child.output)] = ("child: ", [])
    if input >= 0 {
        try Descriptor.setNonBlocking(input)
        sources[try watched.adopt(input)] = ("stdin: ", [])
    }
    try io.run()
} catch {
    kill(child.pid, SIGTERM)  // it would otherwise run on with nobody reading its output
    fail("\(error)")
}
io.close()
if input >= 0 { _ = fcntl(0, F_SETFL, stdinFlags) }

var status: Int32 = 0
while waitpid(child.pid, &status, 0) < 0 && errno == EINTR {}
let signal = status & 0x7F
exit(signal == 0 ? (status >> 8) & 0xFF : 128 + signal)  // the shell's convention for a signal
