//go:build !linux

package config

import "syscall"

// listenerOptions: TCP_DEFER_ACCEPT is Linux's (see listen_linux.go).
func listenerOptions(network, address string, raw syscall.RawConn) error { return nil }
