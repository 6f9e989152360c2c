internal import CSelectors

/// The conventional name of a signal (`SIGTERM`), or `signal N` for one without a name here.
func signalName(_ signal: Int32) -> String {
    switch signal {
    case SIGINT: "SIGINT"
    case SIGTERM: "SIGTERM"
    case SIGHUP: "SIGHUP"
    case SIGQUIT: "SIGQUIT"
    case SIGUSR1: "SIGUSR1"
    case SIGUSR2: "SIGUSR2"
    case SIGALRM: "SIGALRM"
    case SIGPIPE: "SIGPIPE"
    default: "signal \(signal)"
    }
}
