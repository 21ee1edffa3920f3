package media

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
)

// Errors of the object store itself, as opposed to the request.
var (
	// ErrUnavailable: the store did not answer in time, refused the
	// connection or said it is not ready. Trying again later may work.
	ErrUnavailable = errors.New("media: the object store is not answering")
	// ErrNoSpace: the store has no room for the object.
	ErrNoSpace = errors.New("media: the object store is full")
	// ErrUploadCut: the client's upload ended before its end (the client
	// went away); nothing was stored.
	ErrUploadCut = errors.New("media: the upload was cut off before its end")
)

// Timeouts bound every call to the object store.
type Timeouts struct {
	// Connect bounds opening a connection (and its TLS handshake).
	Connect time.Duration
	// FirstByte bounds the wait for the answer's headers once the request
	// is sent.
	FirstByte time.Duration
	// Idle bounds any pause while a request or an answer is streamed.
	Idle time.Duration
}

// DefaultTimeouts: 5 s to connect, 15 s to the first byte, 30 s of silence
// in the middle of a transfer.
var DefaultTimeouts = Timeouts{Connect: 5 * time.Second, FirstByte: 15 * time.Second, Idle: 30 * time.Second}

// transport is an HTTP transport whose connections fail when a read or a
// write waits longer than t.Idle.
func transport(t Timeouts) *http.Transport {
	d := &net.Dialer{Timeout: t.Connect, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &idleConn{Conn: c, idle: t.Idle}, nil
		},
		TLSHandshakeTimeout:   t.Connect,
		ResponseHeaderTimeout: t.FirstByte,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   64,
		// Objects are streamed as they are; no transparent decompression.
		DisableCompression: true,
	}
}

// idleConn pushes its deadline forward on every read and write, so a
// transfer fails after idle of silence however long it is in all.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	if c.idle > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	}
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	if c.idle > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.idle))
	}
	return c.Conn.Write(p)
}

// storeError is a store failure of a known kind, keeping the cause.
type storeError struct{ kind, err error }

func (e *storeError) Error() string   { return e.kind.Error() + ": " + e.err.Error() }
func (e *storeError) Unwrap() []error { return []error{e.kind, e.err} }

// classify marks errors of the store as ErrNoSpace or ErrUnavailable.
func classify(err error) error {
	if err == nil || errors.Is(err, ErrNoSpace) || errors.Is(err, ErrUnavailable) {
		return err
	}
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == "XMinioStorageFull" || resp.Code == "XMinioStorageFullErr" || resp.StatusCode == http.StatusInsufficientStorage:
		return &storeError{ErrNoSpace, err}
	case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusBadGateway ||
		resp.StatusCode == http.StatusGatewayTimeout || resp.Code == "XMinioServerNotInitialized" || resp.Code == "SlowDown":
		return &storeError{ErrUnavailable, err}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &storeError{ErrUnavailable, err}
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return &storeError{ErrUnavailable, err}
	}
	return err
}
