/// The package's version, in one place: both command-line tools print it for `--version`.
public enum SelectorsPackage {
    /// The version of swift-selectors, for example `"0.1.0"`.
    public static let version = "0.1.0"
}
