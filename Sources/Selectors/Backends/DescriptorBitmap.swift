internal import CSelectors

/// A set of fds in the memory layout `select(2)` reads, sized at run time.
///
/// The kernel reads an `fd_set` as an array of `unsigned long` words, bit `fd % 64` of word
/// `fd / 64` (on 64-bit systems), and only as many bits as `select`'s first argument says, so
/// a longer array watches larger fds where the kernel allows it (Linux). The bits are set
/// here, not with glibc's `FD_SET`, which checks its argument against `FD_SETSIZE` in
/// fortified builds and aborts. (Darwin declares its words as 32-bit; on its little-endian
/// machines the bytes are the same.)
struct DescriptorBitmap {
    private var words: [UInt]

    /// Never smaller than one `fd_set`, so the storage can be passed where C expects one.
    private static let minimumWords = Int(cselectors_fd_setsize()) / bitsPerWord

    init() {
        words = Array(repeating: 0, count: DescriptorBitmap.minimumWords)
    }

    /// The number of words that hold bits below `fd + 1`, as `select` will read them.
    @inline(__always)
    static func wordCount(through fd: Int32) -> Int { fd < 0 ? 0 : Int(fd) / bitsPerWord + 1 }

    /// Makes room for `fd`, doubling so a growing table grows the bitmap rarely.
    mutating func reserve(through fd: Int32) {
        let needed = DescriptorBitmap.wordCount(through: fd)
        if needed > words.count {
            words.append(contentsOf: repeatElement(0, count: max(needed, words.count * 2) - words.count))
        }
    }

    @inline(__always)
    func contains(_ fd: Int32) -> Bool {
        let (word, bit) = DescriptorBitmap.position(fd)
        return word < words.count && words[word] & bit != 0
    }

    /// Sets or clears `fd`'s bit; `fd` must be reserved.
    @inline(__always)
    mutating func set(_ fd: Int32, _ member: Bool) {
        let (word, bit) = DescriptorBitmap.position(fd)
        if member { words[word] |= bit } else { words[word] &= ~bit }
    }

    /// The word at `index`: the bits of fds `index * bitsPerWord ..< (index + 1) * bitsPerWord`.
    @inline(__always)
    func word(_ index: Int) -> UInt { words[index] }

    /// The number of fds one word holds.
    static var bitsPerWord: Int { UInt.bitWidth }

    /// Makes the first `count` words equal to `other`'s (the rest are left as they are:
    /// `select` does not read them). Both must hold at least `count` words.
    @inline(__always)
    mutating func copyWords(_ count: Int, from other: DescriptorBitmap) {
        guard count > 0 else { return }
        words.withUnsafeMutableBufferPointer { target in
            other.words.withUnsafeBufferPointer { source in
                target.baseAddress!.update(from: source.baseAddress!, count: count)
            }
        }
    }

    /// Calls `body` with the storage as the `fd_set` pointer `select` takes.
    @inline(__always)
    mutating func withFDSet<Result>(_ body: (UnsafeMutablePointer<fd_set>) -> Result) -> Result {
        words.withUnsafeMutableBufferPointer { buffer in
            // The words are at least one fd_set long (minimumWords), and select only reads
            // and writes the bits below its first argument, which `reserve` made room for.
            buffer.baseAddress!.withMemoryRebound(to: fd_set.self, capacity: 1) { body($0) }
        }
    }

    @inline(__always)
    private static func position(_ fd: Int32) -> (word: Int, bit: UInt) {
        (Int(fd) / bitsPerWord, 1 << UInt(Int(fd) % bitsPerWord))
    }
}
