package xapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/internal/seal"
)

// LRS is a learning record store the administrators configured: where
// statements go (the xAPI endpoint, https, or http on the local host
// only), the Basic credentials (the password sealed at rest with the key
// secret, never shown back), whether statements go there now, and how
// learners are named in them.
type LRS struct {
	ID       string `bson:"_id" json:"id"`
	Name     string `bson:"name" json:"name"`
	Endpoint string `bson:"endpoint" json:"endpoint"`
	Username string `bson:"username" json:"username"`
	Sealed   []byte `bson:"password_sealed" json:"-"`
	Active   bool   `bson:"active" json:"active"`
	// Actor is ActorAccount (the default: the account on our base URL,
	// homePage + user id) or ActorMbox (the person's e-mail address,
	// only when the administrators chose so).
	Actor     string    `bson:"actor" json:"actor"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
}

// How learners are named in the statements to an LRS.
const (
	ActorAccount = "account"
	ActorMbox    = "mbox"
)

// Refusals of an LRS configuration.
var (
	ErrLRSName     = fault.New(fault.Invalid, "xapi_lrs_name_invalid", "name", "the LRS's name is 2–100 characters")
	ErrLRSEndpoint = fault.New(fault.Invalid, "xapi_lrs_endpoint_invalid", "endpoint", "the endpoint is an https URL (http only for the local host) without user info, query or fragment")
	ErrLRSUsername = fault.New(fault.Invalid, "xapi_lrs_username_invalid", "username", "the user name is 1–255 printable characters without a colon")
	ErrLRSPassword = fault.New(fault.Invalid, "xapi_lrs_password_invalid", "password", "the password is 1–1000 characters")
	ErrLRSActor    = fault.New(fault.Invalid, "xapi_lrs_actor_invalid", "actor", "learners are named by their account or, when chosen, their e-mail address")
	ErrLRSNotFound = fault.New(fault.NotFound, "xapi_lrs_not_found", "", "no such learning record store")
	ErrNoKeySecret = fault.New(fault.Conflict, "xapi_no_key_secret", "", "the LRS password is kept sealed with TYOKYKY_CERT_KEY_SECRET, which is not set")
)

var usernameRE = regexp.MustCompile(`^[\x21-\x39\x3b-\x7e]{1,255}$`) // printable, no colon (Basic)

// endpointOK tells whether raw is an https URL (http only for the local
// host) without user info, query or fragment.
func endpointOK(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || u.RawQuery != "" || u.Opaque != "" {
		return false
	}
	h := u.Hostname()
	ip := net.ParseIP(h)
	local := h == "localhost" || ip != nil && ip.IsLoopback()
	return u.Scheme == "https" || u.Scheme == "http" && local
}

// check validates and normalises an LRS; password is the new password
// ("" keeps the sealed one, when there is one).
func (l *LRS) check(password string) []error {
	var errs []error
	l.Name = strings.TrimSpace(l.Name)
	if n := len([]rune(l.Name)); n < 2 || n > 100 || strings.ContainsAny(l.Name, "<>\x00") {
		errs = append(errs, ErrLRSName)
	}
	l.Endpoint = strings.TrimSpace(l.Endpoint)
	if !endpointOK(l.Endpoint) {
		errs = append(errs, ErrLRSEndpoint)
	} else if !strings.HasSuffix(l.Endpoint, "/") {
		l.Endpoint += "/" // the resources are relative to it: …/statements
	}
	l.Username = strings.TrimSpace(l.Username)
	if !usernameRE.MatchString(l.Username) {
		errs = append(errs, ErrLRSUsername)
	}
	if n := len([]rune(password)); password == "" && l.Sealed == nil || n > 1000 || strings.ContainsAny(password, "\x00\r\n") {
		errs = append(errs, ErrLRSPassword)
	}
	if l.Actor == "" {
		l.Actor = ActorAccount
	}
	if l.Actor != ActorAccount && l.Actor != ActorMbox {
		errs = append(errs, ErrLRSActor)
	}
	return errs
}

// StatementsURL is the LRS's statement resource.
func (l *LRS) StatementsURL() string { return l.Endpoint + "statements" }

// sealPassword seals an LRS password with the 32-byte key secret, bound
// to the LRS's id, as sign-in providers' client secrets are.
func sealPassword(key []byte, id, secret string) ([]byte, error) {
	if len(key) != 32 {
		return nil, ErrNoKeySecret
	}
	return seal.Seal(key, []byte(secret), "xapi-lrs:"+id)
}

// password opens the LRS's password with the key secret.
func (l *LRS) password(key []byte) (string, error) {
	if len(key) != 32 {
		return "", ErrNoKeySecret
	}
	plain, err := seal.Open(key, l.Sealed, "xapi-lrs:"+l.ID)
	if errors.Is(err, seal.ErrOpen) {
		return "", errors.New("xapi: the key secret does not open the LRS password (a different TYOKYKY_CERT_KEY_SECRET?)")
	}
	return string(plain), err
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
