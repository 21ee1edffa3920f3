package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthcheck asks the running server's /readyz (for container health
// checks): exit 0 on 200, 1 otherwise.
func healthcheck(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, code := loadConfig("healthcheck", args, getenv, stderr)
	if cfg == nil {
		return code
	}
	host, port, _ := net.SplitHostPort(cfg.Listen)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(host, port) + "/readyz"
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: healthcheck: %v\n", err)
		return exitFailure
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "tyokyky: healthcheck: %s answered %d: %s\n", url, resp.StatusCode, body)
		return exitFailure
	}
	fmt.Fprintf(stdout, "ok: %s\n", body)
	return exitOK
}
