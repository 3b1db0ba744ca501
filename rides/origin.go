package rides

import (
	"net"
	"os"
)

// DefaultOrigin is the Origin header rides sends when none is configured:
// its own advertised address, "http://" and the address it listens on. The
// original assignment wants the rides instance's public address there; what
// a process knows of its own address is where it listens, so that is the
// default, and a deployment behind NAT or a load balancer (AWS) sets
// service "rides" { origin = … } to its public IP or DNS name. A listen
// host that names no machine (empty, 0.0.0.0, ::) is replaced by this
// machine's host name ("localhost" if it has none), the name others reach
// it by on a compose network.
func DefaultOrigin(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		host, port = listen, ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		}
	}
	if port == "" {
		if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
			return "http://[" + host + "]"
		}
		return "http://" + host
	}
	return "http://" + net.JoinHostPort(host, port)
}
