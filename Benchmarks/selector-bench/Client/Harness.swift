#if os(Linux)
    import Synchronization

    /// One client thread's load: it owns its connections and its epoll set, and runs on that
    /// thread only (it is created there), so none of it needs to be thread-safe.
    protocol ClientWorker: AnyObject {
        /// Opens the connections a run starts with; failures go to `errors`.
        func setUp()
        /// Waits briefly for readiness and handles what arrived.
        func step()
        /// Called once when the measured window begins: latencies recorded before are dropped.
        func startMeasuring()
        /// Called once when the measured window ends: start no new operation, only let those
        /// in flight complete (`step` keeps being called).
        func beginFinishing()
        /// Operations started and not yet complete.
        var outstanding: Int { get }
        /// Closes every connection; operations still outstanding count as stalls.
        func tearDown()
        /// Completed operations (cycles, round trips, reads) since set-up.
        var operations: Int { get }
        /// Bytes received back and verified since set-up.
        var bytes: Int { get }
        var errors: ErrorCounts { get }
        var histogram: Histogram { get }
    }

    /// What the main thread and one client thread share.
    final class WorkerControl: Sendable {
        static let warmingUp = 0
        static let measuring = 1
        /// The window is over: operations in flight may complete, none start.
        static let finishing = 2

        let phase = Atomic<Int>(WorkerControl.warmingUp)
        let isReady = Atomic<Bool>(false)
        /// Published by the worker after each step, read by the main thread at the window's edges.
        let operations = Atomic<Int>(0)
        let bytes = Atomic<Int>(0)
        let result = Mutex<(errors: ErrorCounts, histogram: Histogram)?>(nil)
    }

    /// Warm-up and measured window lengths, and how long operations still in flight when
    /// the window closes may take to complete before they count as stalls.
    struct RunTiming: Sendable {
        var warmUp: Double
        var duration: Double
        var grace: Double
    }

    /// A finished run, summed over client threads.
    struct Measurement {
        var seconds: Double
        var operations: Int
        var bytes: Int
        var errors: ErrorCounts
        var histogram: Histogram
    }

    enum Harness {
        /// Runs `threads` client workers through set-up, warm-up and the measured window.
        ///
        /// Operations and bytes are counted from snapshots taken by the main thread at the
        /// window's edges, so set-up and warm-up are excluded; latencies are recorded by each
        /// worker once it has seen the window open.
        static func run(
            threads: Int, timing: RunTiming, progress: ProgressLine,
            makeWorker: @escaping @Sendable (_ thread: Int) -> any ClientWorker
        ) -> Measurement {
            let controls = (0..<threads).map { _ in WorkerControl() }
            let handles = controls.enumerated().map { index, control in
                PosixThread { work(makeWorker(index), control, grace: timing.grace) }
            }
            // Set-up is bounded by per-connection timeouts; this is a last resort.
            let setUpDeadline = Monotonic.now() + 60_000_000_000
            while !controls.allSatisfy({ $0.isReady.load(ordering: .acquiring) })
                && Monotonic.now() < setUpDeadline
            {
                Monotonic.sleep(seconds: 0.001)
            }
            Monotonic.sleep(seconds: timing.warmUp)

            func snapshot() -> (operations: Int, bytes: Int) {
                controls.reduce((0, 0)) {
                    ($0.0 + $1.operations.load(ordering: .relaxed), $0.1 + $1.bytes.load(ordering: .relaxed))
                }
            }
            let startTime = Monotonic.now()
            let start = snapshot()
            for control in controls { control.phase.store(WorkerControl.measuring, ordering: .releasing) }
            let endTime = startTime + Int64(timing.duration * 1e9)
            while true {
                let now = Monotonic.now()
                if now >= endTime { break }
                Monotonic.sleep(seconds: min(0.1, Double(endTime - now) / 1e9))
                let current = snapshot()
                progress.update(
                    elapsed: Double(Monotonic.now() - startTime) / 1e9, total: timing.duration,
                    operations: current.operations - start.operations, bytes: current.bytes - start.bytes)
            }
            let end = snapshot()
            let stopTime = Monotonic.now()
            // Each worker then ends on its own: when nothing is in flight, or after the grace.
            for control in controls { control.phase.store(WorkerControl.finishing, ordering: .releasing) }
            for handle in handles { handle.join() }
            progress.clear()

            var measurement = Measurement(
                seconds: Double(stopTime - startTime) / 1e9, operations: end.operations - start.operations,
                bytes: end.bytes - start.bytes, errors: ErrorCounts(), histogram: Histogram())
            for control in controls {
                guard let result = control.result.withLock({ $0 }) else { continue }
                measurement.errors.merge(result.errors)
                measurement.histogram.merge(result.histogram)
            }
            // A hung operation shows up as a stall (still outstanding after the grace) however
            // short the window; a window in which nothing at all completed is a timeout too.
            if measurement.operations == 0 && measurement.bytes == 0 { measurement.errors.timeout += 1 }
            return measurement
        }

        /// The body of one client thread.
        private static func work(_ worker: any ClientWorker, _ control: WorkerControl, grace: Double) {
            worker.setUp()
            control.isReady.store(true, ordering: .releasing)
            var measuring = false
            var finishDeadline: Int64?
            while true {
                let phase = control.phase.load(ordering: .acquiring)
                if let deadline = finishDeadline {
                    if worker.outstanding == 0 || Monotonic.now() >= deadline { break }
                } else if phase == WorkerControl.finishing {
                    finishDeadline = Monotonic.now() + Int64(grace * 1e9)
                    worker.beginFinishing()
                    continue
                }
                if !measuring && phase == WorkerControl.measuring {
                    measuring = true
                    worker.startMeasuring()
                }
                worker.step()
                control.operations.store(worker.operations, ordering: .relaxed)
                control.bytes.store(worker.bytes, ordering: .relaxed)
            }
            worker.tearDown()
            control.result.withLock { $0 = (worker.errors, worker.histogram) }
        }
    }
#endif
