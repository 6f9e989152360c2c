import EchoService
import Testing

/// Log-line timestamps are computed by hand (no Foundation); checked against known instants.
struct UTCTimestampTests {
    @Test(arguments: [
        (Int64(0), 0, "1970-01-01T00:00:00.000Z"),
        (951_782_400, 5, "2000-02-29T00:00:00.005Z"),  // a leap day of a century divisible by 400
        (1_709_251_199, 999, "2024-02-29T23:59:59.999Z"),
        (1_796_216_523, 250, "2026-12-02T13:02:03.250Z"),
        (4_102_444_800, 0, "2100-01-01T00:00:00.000Z"),  // 2100 is not a leap year
        (-1, 0, "1969-12-31T23:59:59.000Z"),
    ])
    func knownInstantsAreFormattedAsISO8601InUTC(seconds: Int64, milliseconds: Int, expected: String) {
        #expect(UTCTimestamp.format(secondsSinceEpoch: seconds, milliseconds: milliseconds) == expected)
    }

    /// The extremes of `Int64` seconds are formatted, not trapped on: floor division and the
    /// second of the day come from the remainder, with no arithmetic past the ends.
    @Test(arguments: [
        (Int64.min, "-292277022657-01-27T08:29:52.000Z"),
        (Int64.min + 1, "-292277022657-01-27T08:29:53.000Z"),
        (Int64.min + 86_399, "-292277022657-01-28T08:29:51.000Z"),
        (Int64.max, "292277026596-12-04T15:30:07.000Z"),
    ])
    func theExtremesOfInt64SecondsAreFormatted(seconds: Int64, expected: String) {
        #expect(UTCTimestamp.format(secondsSinceEpoch: seconds, milliseconds: 0) == expected)
    }

    /// Years before 1 AD keep their sign in front of four digits, as ISO 8601 writes them.
    @Test(arguments: [
        (Int64(-62_135_596_800), "0001-01-01T00:00:00.000Z"),
        (-62_167_219_200, "0000-01-01T00:00:00.000Z"),
        (-62_324_985_600, "-0005-01-01T00:00:00.000Z"),
        (-93_724_128_000, "-1000-01-01T00:00:00.000Z"),
    ])
    func yearsBeforeOneADKeepTheirSign(seconds: Int64, expected: String) {
        #expect(UTCTimestamp.format(secondsSinceEpoch: seconds, milliseconds: 0) == expected)
    }

    /// Every day from 1970 to 2100 matches a plain day-by-day calendar count.
    @Test func everyDayFrom1970To2100MatchesACalendarCount() {
        var (year, month, day) = (1970, 1, 1)
        var mismatch: String?
        for index in Int64(0)..<47_847 {
            let expected = "\(year)-\(twoDigits(month))-\(twoDigits(day))T00:00:00.000Z"
            let text = UTCTimestamp.format(secondsSinceEpoch: index * 86_400, milliseconds: 0)
            if mismatch == nil && text != expected {
                mismatch = "day \(index): \(text), expected \(expected)"
            }
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
            let length = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
            day += 1
            if day > length { (day, month) = (1, month + 1) }
            if month > 12 { (month, year) = (1, year + 1) }
        }
        #expect(mismatch == nil)
        #expect(year == 2101 && month == 1 && day == 1)
    }

    @Test func nowLooksLikeAnISO8601Instant() {
        let text = UTCTimestamp.now()
        #expect(text.count == 24 && text.hasSuffix("Z") && text.dropFirst(10).hasPrefix("T"), "\(text)")
        #expect(text >= "2024-01-01")
    }
}

private func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
