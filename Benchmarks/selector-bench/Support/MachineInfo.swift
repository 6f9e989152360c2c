#if os(Linux)
    import Glibc
    import Selectors

    /// What a result depends on besides the code: the first record of `--json`, so that figures
    /// from different machines or builds are never compared unknowingly.
    enum MachineInfo {
        /// The host's name (`gethostname`).
        static var hostName: String {
            var buffer = [CChar](repeating: 0, count: 256)
            guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }

        /// The processor's model name, from `/proc/cpuinfo`.
        static var processor: String {
            let text = SystemCall.readFile("/proc/cpuinfo").map { String(decoding: $0, as: UTF8.self) } ?? ""
            for line in text.split(separator: "\n") where line.hasPrefix("model name") {
                if let colon = line.firstIndex(of: ":") {
                    return String(line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" })
                }
            }
            return "unknown"
        }

        /// Online processors (`sysconf(_SC_NPROCESSORS_ONLN)`).
        static var cores: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

        /// The kernel: system name and release, as `uname -sr` prints them.
        static var kernel: String {
            var names = utsname()
            guard uname(&names) == 0 else { return "unknown" }
            func field<T>(_ value: T) -> String {
                withUnsafeBytes(of: value) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
            }
            return field(names.sysname) + " " + field(names.release)
        }

        /// The Swift compiler that built this binary, to the minor version (what
        /// `#if compiler` can tell).
        static var toolchain: String {
            #if compiler(>=6.5)
                "Swift 6.5 or later"
            #elseif compiler(>=6.4)
                "Swift 6.4"
            #elseif compiler(>=6.3)
                "Swift 6.3"
            #elseif compiler(>=6.2)
                "Swift 6.2"
            #else
                "Swift 6.1 or earlier"
            #endif
        }

        /// `debug` or `release` (SwiftPM defines `DEBUG` in debug builds).
        static var buildMode: String {
            #if DEBUG
                "debug"
            #else
                "release"
            #endif
        }

        /// The whole of a small file such as one under /proc, or nil if it cannot be read.
    }
#endif
