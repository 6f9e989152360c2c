internal import CSelectors

/// Wall-clock timestamps for log lines, in UTC and ISO 8601 form with milliseconds
/// (`2026-12-02T09:41:07.250Z`), computed without Foundation or the C library's time zone
/// machinery (`gmtime_r` may take a lock and read files; a log line should do neither).
public enum UTCTimestamp {
    /// The current time (`clock_gettime(CLOCK_REALTIME)`).
    public static func now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return format(secondsSinceEpoch: Int64(spec.tv_sec), milliseconds: Int(spec.tv_nsec / 1_000_000))
    }

    /// `secondsSinceEpoch` (Unix time, UTC) plus `milliseconds` (0 to 999), for example
    /// `format(secondsSinceEpoch: 0, milliseconds: 5)` is `1970-01-01T00:00:00.005Z`.
    public static func format(secondsSinceEpoch: Int64, milliseconds: Int) -> String {
        // Floor division, so instants before 1970 land on the right day; through the
        // remainder, since `secondsSinceEpoch - 86_399` and `days * 86_400` overflow near
        // `Int64.min`.
        let (quotient, remainder) = secondsSinceEpoch.quotientAndRemainder(dividingBy: 86_400)
        let days = remainder < 0 ? quotient - 1 : quotient
        let secondOfDay = Int(remainder < 0 ? remainder + 86_400 : remainder)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        var text = ""
        text.reserveCapacity(24)
        text += padded(year, 4) + "-" + padded(Int64(month), 2) + "-" + padded(Int64(day), 2)
        text += "T" + padded(Int64(secondOfDay / 3600), 2) + ":" + padded(Int64(secondOfDay / 60 % 60), 2)
        text +=
            ":" + padded(Int64(secondOfDay % 60), 2) + "." + padded(Int64(min(max(milliseconds, 0), 999)), 3)
        return text + "Z"
    }

    /// The proleptic Gregorian date of a day counted from 1970-01-01: the "civil from days"
    /// algorithm, counting in 400-year eras (146,097 days) from 0000-03-01 so leap days fall
    /// at the end of each counted year.
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int, day: Int) {
        let shifted = daysSinceEpoch + 719_468  // days from 0000-03-01 to 1970-01-01
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097  // 0...146096
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // from March 1
        let monthFromMarch = (5 * dayOfYear + 2) / 153  // 0 = March ... 11 = February
        let day = Int(dayOfYear - (153 * monthFromMarch + 2) / 5 + 1)
        let month = Int(monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9)
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    /// `value` in at least `width` digits, zeros first; a negative value keeps its sign in
    /// front (year -5 is `-0005`, as ISO 8601 writes years before 1 BC).
    private static func padded(_ value: Int64, _ width: Int) -> String {
        let digits = String(value.magnitude)
        let zeros = String(repeating: "0", count: max(0, width - digits.count))
        return (value < 0 ? "-" : "") + zeros + digits
    }
}
