// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp)
// in-process for tests: on a free port of 127.0.0.1, STARTTLS or implicit
// TLS with a certificate made at start, optional AUTH PLAIN, faults on
// demand (refusals, a connection dropped mid-DATA, being down), and every
// accepted message parsed with the standard MIME parsers.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options shape the server.
type Options struct {
	// Username and Password, when set, are required (AUTH PLAIN).
	Username, Password string
	// ImplicitTLS serves TLS from the first byte (smtps://); otherwise
	// STARTTLS is offered.
	ImplicitTLS bool
}

// Received is one accepted message.
type Received struct {
	From      string
	To        []string
	Raw       []byte
	Header    mail.Header
	MessageID string
	Subject   string // decoded
	Text      string // the text/plain part, decoded
	HTML      string // the text/html part, decoded
	TLS       bool   // the session was encrypted
}

// Stage names a point of the SMTP dialogue for faults.
type Stage string

// Stages.
const (
	StageMail Stage = "MAIL"
	StageRcpt Stage = "RCPT"
	StageData Stage = "DATA"
)

// ErrDrop, returned by a Fault at StageData, closes the connection after
// part of the message has been read.
var ErrDrop = errors.New("smtptest: drop the connection")

// Refuse returns the SMTP reply code with text, for a Fault.
func Refuse(code int, text string) error {
	return &smtp.SMTPError{Code: code, Message: text}
}

// Server is a running SMTP server.
type Server struct {
	// Addr is host:port; URL the smtp:// (or smtps://) URL with the
	// credentials; ClientTLS trusts the server's certificate.
	Addr      string
	URL       string
	ClientTLS *tls.Config

	opts    Options
	cert    tls.Certificate
	mu      sync.Mutex
	srv     *smtp.Server
	ln      net.Listener
	fault   func(Stage) error
	msgs    []Received
	counts  map[string]int
	changed chan struct{}
}

// Start starts a server; it stops when the test ends.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	s, err := New(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// New starts a server; Stop ends it.
func New(o Options) (*Server, error) {
	cert, pool, err := certificate()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: o, cert: cert, counts: map[string]int{}, changed: make(chan struct{}),
		ClientTLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}}
	if err := s.listen("127.0.0.1:0"); err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "smtp", Host: s.Addr}
	if o.ImplicitTLS {
		u.Scheme = "smtps"
	}
	if o.Username != "" {
		u.User = url.UserPassword(o.Username, o.Password)
	}
	s.URL = u.String()
	return s, nil
}

func (s *Server) listen(addr string) error {
	srv := smtp.NewServer(backend{s})
	srv.Domain = "smtptest.local"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{s.cert}, MinVersion: tls.VersionTLS12}
	var ln net.Listener
	var err error
	if s.opts.ImplicitTLS {
		ln, err = tls.Listen("tcp", addr, srv.TLSConfig)
	} else {
		ln, err = net.Listen("tcp", addr)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.srv, s.ln, s.Addr = srv, ln, ln.Addr().String()
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// Stop closes the server (it can be started again with Restart).
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Restart serves again on the same address after Stop.
func (s *Server) Restart() error {
	var err error
	for i := 0; i < 50; i++ {
		if err = s.listen(s.Addr); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// SetFault makes f decide at every stage: nil goes on, an error from
// Refuse answers with it, ErrDrop (at StageData) drops the connection.
func (s *Server) SetFault(f func(Stage) error) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

func (s *Server) faultAt(st Stage) error {
	s.mu.Lock()
	f := s.fault
	s.mu.Unlock()
	if f == nil {
		return nil
	}
	return f(st)
}

// Messages returns the accepted messages in order.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// Count is how many times a Message-ID was accepted.
func (s *Server) Count(messageID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[messageID]
}

// Counts is every Message-ID and how many times it was accepted.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// WaitFor waits until n messages were accepted or the timeout passes.
func (s *Server) WaitFor(n int, timeout time.Duration) []Received {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got, ch := len(s.msgs), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-ch:
		case <-deadline:
			return s.Messages()
		}
	}
}

// WaitTo waits for a message to address and returns the newest one.
func (s *Server) WaitTo(address string, timeout time.Duration) (Received, bool) {
	deadline := time.Now().Add(timeout)
	for {
		msgs := s.Messages()
		for i := len(msgs) - 1; i >= 0; i-- {
			for _, to := range msgs[i].To {
				if strings.EqualFold(to, address) {
					return msgs[i], true
				}
			}
		}
		if time.Now().After(deadline) {
			return Received{}, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) accept(r Received) {
	s.mu.Lock()
	s.msgs = append(s.msgs, r)
	s.counts[r.MessageID]++
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: b.s, conn: c}, nil
}

type session struct {
	s      *Server
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

func (se *session) AuthMechanisms() []string {
	if se.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (se *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != se.s.opts.Username || password != se.s.opts.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication failed"}
		}
		se.authed = true
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.s.opts.Username != "" && !se.authed {
		return smtp.ErrAuthRequired
	}
	if err := se.s.faultAt(StageMail); err != nil {
		return err
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := se.s.faultAt(StageRcpt); err != nil {
		return err
	}
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	if err := se.s.faultAt(StageData); err != nil {
		if errors.Is(err, ErrDrop) {
			_, _ = io.CopyN(io.Discard, r, 64)
			_ = se.conn.Conn().Close()
			return errors.New("dropped")
		}
		_, _ = io.Copy(io.Discard, r)
		return err
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rec, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "unparsable message: " + err.Error()}
	}
	rec.From, rec.To = se.from, append([]string(nil), se.to...)
	_, rec.TLS = se.conn.TLSConnectionState()
	se.s.accept(rec)
	return nil
}

func (se *session) Reset()        { se.from, se.to = "", nil }
func (se *session) Logout() error { return nil }

// parse reads a message with net/mail and mime/multipart.
func parse(raw []byte) (Received, error) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Received{}, err
	}
	r := Received{Raw: raw, Header: m.Header, MessageID: m.Header.Get("Message-Id")}
	dec := new(mime.WordDecoder)
	if r.Subject, err = dec.DecodeHeader(m.Header.Get("Subject")); err != nil {
		return r, err
	}
	err = walk(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body, &r)
	return r, err
}

func walk(contentType, encoding string, body io.Reader, r *Received) error {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, r); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	switch mt {
	case "text/plain":
		r.Text = string(b)
	case "text/html":
		r.HTML = string(b)
	}
	return nil
}

// certificate makes a self-signed certificate for 127.0.0.1 and a pool
// that trusts it.
func certificate() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "smtptest"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
