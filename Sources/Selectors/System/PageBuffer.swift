internal import CSelectors

/// Memory in pages of its own (`mmap`), for the tables and buffers that grow with the number of
/// fds (`DescriptorTable`, the selector's ready events).
///
/// Why not malloc: glibc serves a block under its mmap threshold (128 KiB, raised at run time
/// to the largest mapped block freed) from the heap, and a freed heap block that was written
/// stays resident unless it is at the heap's top. Each table grew through every power of two,
/// and with 10,000 idle connections the outgrown blocks kept 196-384 KiB of heap resident
/// (`/proc/PID/smaps`, `Benchmarks/scale/measure.sh`). Unmapped pages go back at once, and
/// fresh ones are zero and untouched until written, as `calloc`'s large blocks are.
enum PageBuffer {
    /// Room for `count` (more than zero) elements, zeroed. The elements must be trivial (plain
    /// values, C structs): nothing is ever deinitialized.
    static func allocate<Element>(_: Element.Type, count: Int) -> UnsafeMutablePointer<Element> {
        let byteCount = count * MemoryLayout<Element>.stride
        guard let memory = cselectors_map_pages(byteCount) else {
            fatalError("cannot map \(byteCount) bytes for a buffer")
        }
        return memory.bindMemory(to: Element.self, capacity: count)
    }

    /// Address space for `count` (more than zero) elements that neither holds memory nor may
    /// be touched until `commit` opens it (`mmap` with `PROT_NONE`). Trivial elements only.
    static func reserve<Element>(_: Element.Type, count: Int) -> UnsafeMutablePointer<Element> {
        let byteCount = count * MemoryLayout<Element>.stride
        guard let memory = cselectors_reserve_pages(byteCount) else {
            fatalError("cannot reserve \(byteCount) bytes of address space for a table")
        }
        return memory.bindMemory(to: Element.self, capacity: count)
    }

    /// Opens the first `count` elements of a reservation for reading and writing (`mprotect`;
    /// opening what is open already is harmless). They read as zero until written, and take
    /// memory only as their pages are first written. Nil, or the error: the system would not
    /// commit the memory (`ENOMEM`).
    static func commit<Element>(_ memory: UnsafeMutablePointer<Element>, count: Int) -> Errno? {
        cselectors_commit_pages(memory, count * MemoryLayout<Element>.stride) == 0 ? nil : .current
    }

    /// Gives back memory from `allocate` or `reserve`, with the same count.
    static func deallocate<Element>(_ memory: UnsafeMutablePointer<Element>, count: Int) {
        cselectors_unmap_pages(memory, count * MemoryLayout<Element>.stride)
    }
}
