package config

import (
	"syscall"
)

// listenerOptions sets TCP_DEFER_ACCEPT on the listening socket: the
// kernel hands a connection to Accept only once its first bytes (the
// request) have arrived, so the server's read finds them at once instead
// of parking the connection's goroutine and waiting for the poller to
// wake it. A connection that sends nothing is kept from the server for
// the first second.
func listenerOptions(network, address string, raw syscall.RawConn) error {
	var serr error
	err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_DEFER_ACCEPT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
