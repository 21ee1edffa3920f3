package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTP is how messages leave: a relay reached by an smtp:// or smtps://
// URL (TYOKYKY_SMTP_URL) and the sender's address (TYOKYKY_SMTP_FROM).
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	// TLS is "starttls" (required, the default for smtp://), "implicit"
	// (smtps://), "opportunistic" or "none" (only for a relay on the same
	// host or network, chosen with ?tls= in the URL).
	TLS  string
	From string
	// FromName is the display name in From.
	FromName string
	// TLSConfig overrides the TLS settings (tests trust their own
	// certificate with it); nil uses the system's roots.
	TLSConfig *tls.Config
	// Timeout bounds each SMTP command (default 30 s).
	Timeout time.Duration
}

// ParseSMTP reads an SMTP URL: smtp://user:pass@host:587 (STARTTLS
// required), smtps://user:pass@host:465 (implicit TLS), with ?tls=
// opportunistic or none to relax STARTTLS for a local relay. The password
// may be percent-encoded.
func ParseSMTP(raw, from string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL such as smtp://user:password@host:587")
	}
	s := &SMTP{Host: u.Hostname()}
	switch u.Scheme {
	case "smtp":
		s.TLS, s.Port = "starttls", 587
	case "smtps":
		s.TLS, s.Port = "implicit", 465
	default:
		return nil, fmt.Errorf("the scheme must be smtp or smtps, not %q", u.Scheme)
	}
	if s.Host == "" {
		return nil, errors.New("the URL names no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %q is not a port number", p)
		}
		s.Port = n
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	if u.Path != "" && u.Path != "/" {
		return nil, errors.New("the URL must not have a path")
	}
	for k, v := range u.Query() {
		switch k {
		case "tls":
			if s.TLS == "implicit" {
				return nil, errors.New("smtps:// always uses TLS; ?tls= is for smtp://")
			}
			switch v[0] {
			case "starttls", "opportunistic", "none":
				s.TLS = v[0]
			default:
				return nil, fmt.Errorf("tls=%q: use starttls, opportunistic or none", v[0])
			}
		default:
			return nil, fmt.Errorf("unknown URL parameter %q (only tls= is known)", k)
		}
	}
	if from == "" {
		return nil, errors.New("TYOKYKY_SMTP_FROM (the sender's address) is required with an SMTP URL")
	}
	addr, err := parseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("sender %q: %v", from, err)
	}
	s.From, s.FromName = addr.Address, addr.Name
	return s, nil
}

// Redacted is the URL without its password, for logs.
func (s *SMTP) Redacted() string {
	scheme := "smtp"
	if s.TLS == "implicit" {
		scheme = "smtps"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port))}
	if s.Username != "" {
		u.User = url.User(s.Username)
	}
	if s.TLS == "opportunistic" || s.TLS == "none" {
		u.RawQuery = "tls=" + s.TLS
	}
	return u.String()
}

func (s *SMTP) client() (*gomail.Client, error) {
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	opts := []gomail.Option{gomail.WithPort(s.Port), gomail.WithTimeout(timeout), gomail.WithHELO(helo(s.From))}
	switch s.TLS {
	case "implicit":
		opts = append(opts, gomail.WithSSL())
	case "opportunistic":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(s.TLSConfig))
	} else {
		opts = append(opts, gomail.WithTLSConfig(&tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12}))
	}
	if s.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(s.Username), gomail.WithPassword(s.Password))
	}
	return gomail.NewClient(s.Host, opts...)
}

// helo is the name the client gives in EHLO: the sender's domain.
func helo(from string) string {
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i+1 < len(from) {
		return from[i+1:]
	}
	return "localhost"
}

// deliver sends msgs over one connection. For each message it returns nil
// when the server accepted it, or the error.
func (s *SMTP) deliver(ctx context.Context, msgs []*gomail.Msg) []error {
	out := make([]error, len(msgs))
	pending := make([]int, len(msgs))
	for i := range pending {
		pending[i] = i
	}
	// A connection that breaks fails every message after the break; those
	// never reached the server and go again over a new connection (twice
	// at most). A message cut off during its DATA is not among them: the
	// server may have taken it, so it waits for its next try.
	for round := 0; round < 3 && len(pending) > 0 && ctx.Err() == nil; round++ {
		c, err := s.client()
		if err == nil {
			err = c.DialWithContext(ctx)
		}
		if err != nil {
			for _, i := range pending {
				out[i] = err
			}
			return out
		}
		batch := make([]*gomail.Msg, len(pending))
		for j, i := range pending {
			batch[j] = msgs[i]
		}
		_ = c.Send(batch...)
		_ = c.Close()
		var again []int
		for _, i := range pending {
			m := msgs[i]
			if m.IsDelivered() {
				out[i] = nil
				continue
			}
			e := m.SendError()
			if e == nil {
				e = errors.New("not delivered: the connection failed before the message")
			}
			out[i] = e
			if neverSent(e) {
				again = append(again, i)
			}
		}
		pending = again
	}
	return out
}

// neverSent: the message failed before its DATA on a broken connection
// (no reply from the server), so it certainly did not arrive.
func neverSent(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return true // the batch's connection check failed before any message
	}
	switch se.Reason {
	case gomail.ErrConnCheck, gomail.ErrSMTPMailFrom, gomail.ErrSMTPRcptTo, gomail.ErrSMTPReset:
		return se.ErrorCode() == 0
	}
	return false
}

// permanent: the server refused for good (a 5xx reply).
func permanent(err error) bool {
	var se *gomail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		return code >= 500 && code < 600
	}
	return false
}
