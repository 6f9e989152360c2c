// The Swift concurrency runtime's own cost of what an async connection does, with no I/O and
// no library code: the floor under `echo-server --api async`. Built and counted by
// Benchmarks/async-floor/floor.sh (swiftc -O, callgrind); see BENCHMARKS.md section 16.
//
//   floor N [cancellable]  N waits of one task: it suspends in a continuation (inside a
//                          cancellation handler with "cancellable", as AsyncConnection's waits
//                          are), a one-thread executor resumes it and runs the job it gets back
//   floor N spawn          N tasks one after another, each waiting once (cancellable): a
//                          connection's task with one wait
//   floor N hold           N tasks suspended at once in a cancellable wait; prints RssAnon
import Glibc

/// A minimal loop: the tasks' executor preference, run on the calling thread.
final class MiniLoop: SerialExecutor, TaskExecutor, @unchecked Sendable {
    var jobs: [UnownedJob] = []
    var waiting: UnsafeContinuation<Void, Never>?
    var held: [UnsafeContinuation<Void, Never>] = []

    func enqueue(_ job: consuming ExecutorJob) { jobs.append(UnownedJob(job)) }
    func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }

    /// Runs jobs; when none is left, resumes the waiting task; stops when neither is left.
    func run() {
        while true {
            if jobs.isEmpty {
                guard let continuation = waiting else { return }
                waiting = nil
                continuation.resume()
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }
}

@main struct Floor {
    static func main() {
        let arguments = CommandLine.arguments
        let count = arguments.count > 1 ? Int(arguments[1]) ?? 0 : 0
        let cancellable = arguments.count > 2 && arguments[2] == "cancellable"
        let loop = MiniLoop()
        if arguments.count > 2 && arguments[2] == "spawn" {
            // A task per iteration that waits once (cancellable) and ends: a connection's
            // task, with one wait.
            for _ in 0..<count {
                Task(executorPreference: loop) {
                    await withTaskCancellationHandler {
                        await withUnsafeContinuation { loop.waiting = $0 }
                    } onCancel: {
                    }
                }
                loop.run()
            }
            return
        }
        if arguments.count > 2 && arguments[2] == "hold" {
            // `count` tasks suspended at once, each in a cancellable wait: resident memory.
            for _ in 0..<count {
                Task(executorPreference: loop) {
                    await withTaskCancellationHandler {
                        await withUnsafeContinuation { loop.held.append($0) }
                    } onCancel: {
                    }
                }
            }
            let batch = loop.jobs
            loop.jobs.removeAll()
            for job in batch { job.runSynchronously(on: loop.asUnownedTaskExecutor()) }
            var bytes = [UInt8](repeating: 0, count: 8192)
            let fd = open("/proc/self/status", O_RDONLY)
            let length = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            close(fd)
            let status = String(decoding: bytes[0..<max(0, length)], as: UTF8.self)
            for line in status.split(separator: "\n") where line.hasPrefix("RssAnon") { print(line) }
            return
        }
        Task(executorPreference: loop) {
            for _ in 0..<count {
                if cancellable {
                    await withTaskCancellationHandler {
                        await withUnsafeContinuation { loop.waiting = $0 }
                    } onCancel: {
                    }
                } else {
                    await withUnsafeContinuation { loop.waiting = $0 }
                }
            }
        }
        loop.run()
    }
}
