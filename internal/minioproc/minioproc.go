// Package minioproc runs a real MinIO server as a child process for
// development and tests: data and generated credentials live in one
// directory, the server listens on 127.0.0.1 only, and it dies with its
// parent.
package minioproc

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Credentials are MinIO's root user and password.
type Credentials struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

// Options for Start.
type Options struct {
	// Bin is the minio binary.
	Bin string
	// Dir holds data/ and credentials.json.
	Dir string
	// Addr to listen on; empty picks a free port on 127.0.0.1.
	Addr string
	// Logger receives MinIO's output (errors at warning level, the rest at debug).
	Logger *slog.Logger
	// StartTimeout bounds the wait for MinIO to answer its health check.
	StartTimeout time.Duration
	// Drives > 1 starts MinIO erasure-coded over that many drive folders
	// (data/d1 … data/dN) in one process.
	Drives int
}

// Process is a running MinIO server.
type Process struct {
	Addr        string
	Credentials Credentials

	dir      string
	cmd      *exec.Cmd
	exited   chan struct{}
	exitErr  error
	stopOnce sync.Once
}

// Endpoint is the http URL of the server.
func (p *Process) Endpoint() string { return "http://" + p.Addr }

// Start launches MinIO and waits until it is live.
func Start(ctx context.Context, o Options) (*Process, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 60 * time.Second
	}
	bin, err := exec.LookPath(o.Bin)
	if err != nil {
		return nil, fmt.Errorf("minio: binary %q not found: build it with `make minio` or set an S3 endpoint", o.Bin)
	}
	dataDir := filepath.Join(o.Dir, "data")
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("minio: %w", err)
	}
	creds, err := LoadOrCreateCredentials(filepath.Join(o.Dir, "credentials.json"))
	if err != nil {
		return nil, err
	}
	addr := o.Addr
	if addr == "" {
		if addr, err = FreeAddr(); err != nil {
			return nil, fmt.Errorf("minio: %w", err)
		}
	}

	args := []string{"server", "--quiet", "--address", addr, dataDir}
	if o.Drives > 1 {
		for i := 1; i <= o.Drives; i++ {
			if err := os.MkdirAll(filepath.Join(dataDir, fmt.Sprintf("d%d", i)), 0o750); err != nil {
				return nil, fmt.Errorf("minio: %w", err)
			}
		}
		args[len(args)-1] = filepath.Join(dataDir, fmt.Sprintf("d{1...%d}", o.Drives))
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(minimalEnv(),
		"MINIO_ROOT_USER="+creds.AccessKey,
		"MINIO_ROOT_PASSWORD="+creds.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CALLHOME_ENABLE=off",
	)
	if o.Drives > 1 {
		// Development and tests keep every drive folder on one disk, which
		// MinIO otherwise refuses for an erasure set.
		cmd.Env = append(cmd.Env, "MINIO_CI_CD=on")
	}
	// Own process group, so a Ctrl-C at the terminal reaches the server
	// first and the server stops MinIO in order; Pdeathsig ends MinIO if the
	// server dies without stopping it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("minio: start: %w", err)
	}
	p := &Process{Addr: addr, Credentials: creds, dir: o.Dir, cmd: cmd, exited: make(chan struct{})}
	tail := &lastLines{max: 20}
	go func() {
		forward(out, o.Logger.With("component", "minio"), tail)
	}()
	go func() {
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()

	deadline := time.Now().Add(o.StartTimeout)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("minio exited during start-up (%v): %s", p.exitErr, tail.String())
		case <-ctx.Done():
			p.Stop(5 * time.Second)
			return nil, ctx.Err()
		default:
		}
		if resp, err := client.Get("http://" + addr + "/minio/health/cluster"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				// Published for the admin commands (tyokyky media …) to attach to.
				_ = os.WriteFile(filepath.Join(o.Dir, "endpoint"), []byte(p.Endpoint()+"\n"), 0o600)
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.Stop(5 * time.Second)
			return nil, fmt.Errorf("minio did not become live on %s within %s: %s", addr, o.StartTimeout, tail.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop asks MinIO to exit (SIGTERM) and kills it after timeout.
func (p *Process) Stop(timeout time.Duration) {
	p.stopOnce.Do(func() {
		if b, err := os.ReadFile(filepath.Join(p.dir, "endpoint")); err == nil && strings.TrimSpace(string(b)) == p.Endpoint() {
			os.Remove(filepath.Join(p.dir, "endpoint"))
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(timeout):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

// Attach finds a live MinIO that another process started on dir (a
// running server), with its endpoint and credentials.
func Attach(dir string) (endpoint string, creds Credentials, ok bool) {
	b, err := os.ReadFile(filepath.Join(dir, "endpoint"))
	if err != nil {
		return "", Credentials{}, false
	}
	endpoint = strings.TrimSpace(string(b))
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(endpoint + "/minio/health/cluster")
	if err != nil {
		return "", Credentials{}, false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", Credentials{}, false
	}
	data, err := os.ReadFile(filepath.Join(dir, "credentials.json"))
	if err != nil || json.Unmarshal(data, &creds) != nil || creds.AccessKey == "" {
		return "", Credentials{}, false
	}
	return endpoint, creds, true
}

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// LoadOrCreateCredentials reads the credentials file, or creates it with
// random values (crypto/rand) and mode 0600.
func LoadOrCreateCredentials(path string) (Credentials, error) {
	var c Credentials
	data, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(data, &c); err != nil || c.AccessKey == "" || c.SecretKey == "" {
			return c, fmt.Errorf("minio: %s is damaged; remove it together with the MinIO data to start afresh", path)
		}
		return c, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return c, fmt.Errorf("minio: %w", err)
	}
	c = Credentials{AccessKey: "tyokyky-" + randomString(8), SecretKey: randomString(30)}
	data, _ = json.MarshalIndent(c, "", "  ")
	if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return c, fmt.Errorf("minio: %w", err)
	}
	return c, nil
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	s := base64.RawURLEncoding.EncodeToString(b)
	return strings.NewReplacer("-", "a", "_", "b").Replace(s)[:n]
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// minimalEnv passes on only what MinIO needs from our environment, so no
// secret of ours (and no MINIO_* setting) leaks into it.
func minimalEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func forward(r io.Reader, logger *slog.Logger, tail *lastLines) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		tail.add(line)
		lower := strings.ToLower(line)
		if strings.Contains(lower, "error") || strings.Contains(lower, "fatal") {
			logger.Warn(line)
		} else {
			logger.Debug(line)
		}
	}
}

type lastLines struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (l *lastLines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
	if len(l.lines) > l.max {
		l.lines = l.lines[1:]
	}
}

func (l *lastLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return "(no output)"
	}
	return strings.Join(l.lines, " | ")
}
