/// REG's version: the one place it is written (`reg --version`, `reg_version()` of the C API).
public enum REGVersion {
    public static let current = "0.2.0"
}
