package config

import (
	"net"
	"syscall"
	"testing"
)

// The listener defers accepting a connection until its request arrives
// (TCP_DEFER_ACCEPT), and still serves one that sends at once.
func TestBindDefersAcceptUntilData(t *testing.T) {
	c := &Config{Listen: "127.0.0.1:0"}
	ln, err := c.Bind()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	raw, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := raw.Control(func(fd uintptr) {
		v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_DEFER_ACCEPT)
	}); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	if v == 0 {
		t.Fatal("TCP_DEFER_ACCEPT is not set on the listener")
	}
	go func() {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			conn.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
			defer conn.Close()
			buf := make([]byte, 1)
			conn.Read(buf) // until the test closes the listener's side
		}
	}()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 3)
	if n, err := conn.Read(buf); err != nil || string(buf[:n]) != "GET" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
}
