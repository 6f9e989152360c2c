#if os(Linux)
    import Selectors
    import Testing

    /// Whether the uring tests can run: the probe found io_uring usable in this process.
    /// Where it did not, `UringAvailabilityTests` prints why and the uring tests are skipped.
    let uringAvailable = Backend.uring.isAvailable

    /// The trait of every uring-only test.
    let requiresUring = ConditionTrait.enabled(
        if: uringAvailable, "io_uring is not usable here; UringAvailabilityTests prints why")
#endif

#if os(Linux)
    /// Compared as sets where a test does not care in which order a batch lists its fds.
    extension ReadyEntry: Hashable {
        func hash(into hasher: inout Hasher) {
            hasher.combine(fd)
            hasher.combine(events)
        }
    }
#endif
