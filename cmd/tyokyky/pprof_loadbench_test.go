//go:build loadbench

package main

import (
	"net/http"
	_ "net/http/pprof" // profiles of the server under load, on request
	"os"
	"runtime"
	"time"
)

// With TYOKYKY_TEST_PPROF=host:port, the platform started by a load test
// serves Go's profiles there, to find where the time goes under load.
func init() {
	if addr := os.Getenv("TYOKYKY_TEST_PPROF"); addr != "" && os.Getenv("TYOKYKY_TEST_AS_MAIN") == "1" {
		// Where requests wait (locks, the write gate, channels) too.
		runtime.SetBlockProfileRate(int(time.Millisecond))
		runtime.SetMutexProfileFraction(10)
		go http.ListenAndServe(addr, nil) //nolint:errcheck // diagnostics only
	}
}
