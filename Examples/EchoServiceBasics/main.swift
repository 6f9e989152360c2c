import EchoService

var configuration = EchoServer.Configuration()
configuration.port = 0  // let the kernel pick a free port
let server = try EchoServer.start(configuration)  // loops on their own threads
print("echoing on \(server.address)")
// ... clients connect ...
print(server.statistics)
server.stop()  // closes everything, joins the threads
