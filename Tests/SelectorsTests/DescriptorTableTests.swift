import Testing

@testable import Selectors

/// The fd-indexed table under the selector's registrations and the connections' state.
@Suite struct DescriptorTableTests {
    /// An entry keeps its address while the table grows, so a pointer taken before a call
    /// that registers a higher fd is still good after it.
    @Test func entriesKeepTheirAddressAndValueAsTheTableGrows() throws {
        var table = DescriptorTable<UInt64>(capacity: 4, reservedCount: 100_000)
        defer { table.deallocate() }
        let low = try #require(entry(&table, 2))
        low.pointee = 0xABCD
        for fd: Int32 in [4, 9, 1_000, 65_537, 99_999] {
            let new = try #require(entry(&table, fd))
            #expect(new.pointee == 0, "a new entry is empty")
            new.pointee = UInt64(fd)
            #expect(table.capacity > Int(fd))
        }
        #expect(entry(&table, 2) == low)
        #expect(low.pointee == 0xABCD)
        #expect(table[65_537].pointee == 65_537)
        #expect(table.highestFD == 99_999)
    }

    /// Beyond its reservation the table refuses, with a reason naming the limit, and is
    /// unchanged; `existing` never reaches past what was made room for.
    @Test func anFdBeyondTheReservationIsRefused() throws {
        var table = DescriptorTable<UInt64>(capacity: 8, reservedCount: 1_000)
        defer { table.deallocate() }
        #expect(entry(&table, 999) != nil)
        #expect(entry(&table, 1_000) == nil)
        #expect(entry(&table, Int32.max) == nil)
        #expect(table.refusal(for: 1_000) == .descriptorBeyondTable(limit: 1_000))
        #expect(table.highestFD == 999)
        #expect(table.existing(999) != nil)
        #expect(table.existing(1_000) == nil)
        #expect(table.existing(-1) == nil)
        let text = SelectorError(.register, fd: 1_000, table.refusal(for: 1_000)).description
        #expect(
            text.contains("1000") && text.contains("register") && text.contains("RLIMIT_NOFILE"), "\(text)")
    }

    /// A negative fd is refused as such, and makes no room (it once yielded a pointer before
    /// the table: `Connections.adopt(-1)` crashed).
    @Test func aNegativeFdIsRefused() throws {
        var table = DescriptorTable<UInt64>(capacity: 8, reservedCount: 1_000)
        defer { table.deallocate() }
        for fd: Int32 in [-1, -8, Int32.min] {
            #expect(entry(&table, fd) == nil)
            #expect(table.refusal(for: fd) == .negativeDescriptor)
        }
        #expect(table.highestFD == -1)
        #expect(table.capacity == 8)
    }

    /// By default a table reserves one entry per fd the process may open.
    @Test func theDefaultReservationCoversTheOpenFilesLimit() {
        let table = DescriptorTable<UInt64>(capacity: 16)
        defer { table.deallocate() }
        #expect(table.reservedCount >= Int(descriptorLimit))
    }

    /// `entry(for:)` outside the expectation macros, which cannot call a mutating method.
    private func entry(_ table: inout DescriptorTable<UInt64>, _ fd: Int32) -> UnsafeMutablePointer<UInt64>? {
        table.entry(for: fd)
    }
}
