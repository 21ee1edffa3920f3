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
	"sync/atomic"
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

// Process is a running MinIO server. It holds the lock on its folder
// from Start to Stop, so no other process starts a MinIO on the same
// data.
type Process struct {
	Addr        string
	Credentials Credentials

	dir      string
	opts     Options
	bin      string
	lock     *os.File
	stopping atomic.Bool
	stopOnce sync.Once

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // the current child's
	exitErr error

	// supervision
	gaveUp    chan struct{}
	down      atomic.Bool
	restarts  atomic.Int64
	superDone chan struct{}
	endSuper  context.CancelFunc
}

// ErrLocked means another process runs a MinIO on the folder.
var ErrLocked = errors.New("minio: another process runs MinIO on this folder")

// Endpoint is the http URL of the server.
func (p *Process) Endpoint() string { return "http://" + p.Addr }

// Start takes the folder's lock, launches MinIO and waits until it is
// live. It fails with ErrLocked, starting nothing, when another process
// holds the folder.
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
	lock, err := lockDir(o.Dir)
	if err != nil {
		return nil, err
	}
	creds, err := LoadOrCreateCredentials(filepath.Join(o.Dir, "credentials.json"))
	if err != nil {
		unlock(lock)
		return nil, err
	}
	addr := o.Addr
	if addr == "" {
		if addr, err = FreeAddr(); err != nil {
			unlock(lock)
			return nil, fmt.Errorf("minio: %w", err)
		}
	}
	p := &Process{Addr: addr, Credentials: creds, dir: o.Dir, opts: o, bin: bin, lock: lock}
	if err := p.launch(ctx); err != nil {
		unlock(lock)
		return nil, err
	}
	return p, nil
}

// lockDir takes an exclusive lock on dir/lock without waiting. The lock
// goes with the process, however it ends.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("minio: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("minio: lock %s: %w", dir, err)
	}
	return f, nil
}

func unlock(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	f.Close()
}

// Locked reports whether another process holds dir (runs a MinIO on it).
func Locked(dir string) bool {
	f, err := lockDir(dir)
	if err != nil {
		return errors.Is(err, ErrLocked)
	}
	unlock(f)
	return false
}

// launch starts the child on p.Addr and waits until it is live.
func (p *Process) launch(ctx context.Context) error {
	o := p.opts
	dataDir := filepath.Join(o.Dir, "data")
	args := []string{"server", "--quiet", "--address", p.Addr, dataDir}
	if o.Drives > 1 {
		for i := 1; i <= o.Drives; i++ {
			if err := os.MkdirAll(filepath.Join(dataDir, fmt.Sprintf("d%d", i)), 0o750); err != nil {
				return fmt.Errorf("minio: %w", err)
			}
		}
		args[len(args)-1] = filepath.Join(dataDir, fmt.Sprintf("d{1...%d}", o.Drives))
	}
	cmd := exec.Command(p.bin, args...)
	cmd.Env = append(minimalEnv(),
		"MINIO_ROOT_USER="+p.Credentials.AccessKey,
		"MINIO_ROOT_PASSWORD="+p.Credentials.SecretKey,
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
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("minio: start: %w", err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited, p.exitErr = cmd, exited, nil
	p.mu.Unlock()
	tail := &lastLines{max: 20}
	go func() {
		forward(out, o.Logger.With("component", "minio"), tail)
	}()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(exited)
	}()

	deadline := time.Now().Add(o.StartTimeout)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-exited:
			return fmt.Errorf("minio exited during start-up (%v): %s", p.exitError(), tail.String())
		case <-ctx.Done():
			p.kill(cmd, exited, 5*time.Second)
			return ctx.Err()
		default:
		}
		if resp, err := client.Get("http://" + p.Addr + "/minio/health/cluster"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				// Published for the admin commands (tyokyky media …) to attach to.
				_ = os.WriteFile(filepath.Join(o.Dir, "endpoint"), []byte(p.Endpoint()+"\n"), 0o600)
				return nil
			}
		}
		if time.Now().After(deadline) {
			p.kill(cmd, exited, 5*time.Second)
			return fmt.Errorf("minio did not become live on %s within %s: %s", p.Addr, o.StartTimeout, tail.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *Process) exitError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

// kill asks a child to exit (SIGTERM) and kills it after timeout.
func (p *Process) kill(cmd *exec.Cmd, exited chan struct{}, timeout time.Duration) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Stop asks MinIO to exit (SIGTERM), kills it after timeout, ends the
// supervision and gives up the folder.
func (p *Process) Stop(timeout time.Duration) {
	p.stopOnce.Do(func() {
		p.stopping.Store(true)
		// The endpoint file is ours: we hold the folder's lock.
		os.Remove(filepath.Join(p.dir, "endpoint"))
		p.mu.Lock()
		cmd, exited := p.cmd, p.exited
		p.mu.Unlock()
		if p.endSuper != nil {
			p.endSuper()
		}
		p.kill(cmd, exited, timeout)
		if p.superDone != nil {
			<-p.superDone
			// A restart may have been under way.
			p.mu.Lock()
			cmd, exited = p.cmd, p.exited
			p.mu.Unlock()
			p.kill(cmd, exited, timeout)
		}
		unlock(p.lock)
	})
}

// PID is the current child's process id.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

// Supervision says how a supervised MinIO is restarted.
type Supervision struct {
	// Backoff is the wait before the first restart; it doubles after each
	// failed one up to MaxBackoff, and starts again after a run of
	// StableAfter.
	Backoff, MaxBackoff, StableAfter time.Duration
	// MaxRestarts in Window: one more and the supervisor gives up.
	MaxRestarts int
	Window      time.Duration
	// OnChange is told when MinIO goes down (false) and is up again (true).
	OnChange func(up bool)
}

// DefaultSupervision restarts after 1 s, 2 s, 4 s … up to 30 s, and gives
// up after 5 restarts within 5 minutes.
var DefaultSupervision = Supervision{Backoff: time.Second, MaxBackoff: 30 * time.Second, StableAfter: time.Minute,
	MaxRestarts: 5, Window: 5 * time.Minute}

// Supervise restarts MinIO on the same address whenever it exits until
// Stop, as a process supervisor would; after too many restarts in the
// window it stops trying and closes GaveUp. Call it once, after Start.
func (p *Process) Supervise(ctx context.Context, s Supervision) {
	p.gaveUp = make(chan struct{})
	p.superDone = make(chan struct{})
	ctx, p.endSuper = context.WithCancel(ctx)
	go p.supervise(ctx, s)
}

func (p *Process) supervise(ctx context.Context, s Supervision) {
	defer close(p.superDone)
	log := p.opts.Logger
	backoff := s.Backoff
	upSince := time.Now()
	var restarts []time.Time
	for {
		p.mu.Lock()
		exited := p.exited
		p.mu.Unlock()
		select {
		case <-exited:
		case <-ctx.Done():
			return
		}
		if p.stopping.Load() || ctx.Err() != nil {
			return
		}
		p.down.Store(true)
		if s.OnChange != nil {
			s.OnChange(false)
		}
		if time.Since(upSince) >= s.StableAfter {
			backoff = s.Backoff
		}
		for {
			now := time.Now()
			kept := restarts[:0]
			for _, r := range restarts {
				if now.Sub(r) < s.Window {
					kept = append(kept, r)
				}
			}
			restarts = kept
			if len(restarts) >= s.MaxRestarts {
				log.Error("minio: giving up after repeated restarts", "restarts", len(restarts), "window", s.Window)
				close(p.gaveUp)
				return
			}
			log.Warn("minio: the child process exited; restarting", "err", p.exitError(), "in", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			if p.stopping.Load() {
				return
			}
			restarts = append(restarts, time.Now())
			p.restarts.Add(1)
			backoff = min(2*backoff, s.MaxBackoff)
			err := p.launch(ctx)
			if err == nil {
				break
			}
			log.Warn("minio: restart failed", "err", err)
		}
		upSince = time.Now()
		p.down.Store(false)
		log.Info("minio: restarted", "addr", p.Addr)
		if s.OnChange != nil {
			s.OnChange(true)
		}
	}
}

// GaveUp is closed when a supervised MinIO could not be kept running;
// nil (never closed) when not supervised.
func (p *Process) GaveUp() <-chan struct{} { return p.gaveUp }

// Down reports whether a supervised MinIO is between an exit and its
// restart.
func (p *Process) Down() bool { return p.down.Load() }

// Restarts is how many times the supervisor restarted MinIO.
func (p *Process) Restarts() int64 { return p.restarts.Load() }

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
