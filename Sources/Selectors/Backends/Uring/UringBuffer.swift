#if os(Linux) && !SELECTORS_BSD_TYPECHECK
    /// A growable buffer of plain values for the uring backend's per-event paths: the slot
    /// table and the submission queues.
    ///
    /// Why not `Array`: every write to an array held in a struct held by a class checks that
    /// its storage is not shared, and emptying one (`removeAll(keepingCapacity:)`) goes through
    /// the generic `replaceSubrange`; together they were about 140 of the backend's
    /// instructions per echo round trip (callgrind).
    ///
    /// SAFETY: the buffer owns its memory but is a plain struct, so it must have exactly one
    /// owner that never copies it (the backend's `UringRegistrations`), and `deallocate` is
    /// called once, by that owner, when it is closed. A pointer from `pointer(at:)` is valid
    /// until the buffer grows (`append`, `grow`). Indices are the caller's to check. Elements
    /// must be plain values (no references), as the memory is freed without deinitializing it.
    struct UringBuffer<Element> {
        private(set) var base: UnsafeMutablePointer<Element>
        private(set) var capacity: Int
        /// The elements in use, `base[0..<count]`.
        var count = 0

        init(capacity: Int) {
            assert(_isPOD(Element.self), "UringBuffer holds plain values only")
            self.capacity = max(capacity, 1)
            base = .allocate(capacity: self.capacity)
        }

        @inline(__always)
        subscript(index: Int) -> Element {
            get { base[index] }
            nonmutating set { base[index] = newValue }
        }

        @inline(__always)
        func pointer(at index: Int) -> UnsafeMutablePointer<Element> { base + index }

        @inline(__always)
        var isEmpty: Bool { count == 0 }

        @inline(__always)
        mutating func append(_ element: Element) {
            if count == capacity { reallocate(capacity * 2) }
            base[count] = element
            count += 1
        }

        @inline(__always)
        mutating func removeLast() -> Element {
            count -= 1
            return base[count]
        }

        /// Forgets the elements; keeps the memory.
        @inline(__always)
        mutating func removeAll() { count = 0 }

        /// Forgets the first `prefix` elements, moving the rest to the front.
        @inline(__always)
        mutating func removeFirst(_ prefix: Int) {
            if prefix == count { return removeAll() }
            (base).update(from: base + prefix, count: count - prefix)
            count -= prefix
        }

        /// Makes `count` at least `newCount`, filling new elements with `filler`.
        mutating func grow(to newCount: Int, filling filler: Element) {
            guard newCount > count else { return }
            if newCount > capacity { reallocate(max(newCount, capacity * 2)) }
            (base + count).initialize(repeating: filler, count: newCount - count)
            count = newCount
        }

        func deallocate() { base.deallocate() }

        private mutating func reallocate(_ newCapacity: Int) {
            let grown = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
            grown.initialize(from: base, count: count)
            base.deallocate()
            base = grown
            capacity = newCapacity
        }
    }
#endif
