import EchoService
import Glibc  // exit, write (import Darwin on macOS)

var configuration = EchoServer.Configuration()
configuration.port = 0  // let the kernel pick a free port
do {
    let server = try EchoServer.start(configuration)  // loops on their own threads
    print("echoing on \(server.address)")
    // ... clients connect ...
    print(server.statistics)
    server.stop()  // closes everything, joins the threads
} catch {
    let line = "echo-service-basics: \(error)\n"  // the port is taken, no descriptors left, ...
    _ = write(2, line, line.utf8.count)
    exit(1)
}
