package account

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/tyokyky/tyokyky/internal/fault"
)

// Password rules (OWASP ASVS 2.1): at least 8 characters, at least 64
// allowed, no composition rules, not a common password.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 128
)

// argon2id parameters (OWASP: m = 19 MiB, t = 2, p = 1), stored with each
// hash so they can be raised later.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
)

//go:embed common-passwords.txt
var commonPasswordsFile []byte

var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(commonPasswordsFile))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			m[line] = true
		}
	}
	return m
}()

// Password problems, as codes the UI translates.
var (
	ErrPasswordShort  = fault.New(fault.Invalid, "password_short", "password", "the password is too short")
	ErrPasswordLong   = fault.New(fault.Invalid, "password_long", "password", "the password is too long")
	ErrPasswordCommon = fault.New(fault.Invalid, "password_common", "password", "the password is among the most common ones")
)

// CheckPassword applies the password rules; email and name are rejected
// as passwords too.
func CheckPassword(pw, email, name string) error {
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLen {
		return ErrPasswordShort
	}
	if n > MaxPasswordLen {
		return ErrPasswordLong
	}
	lower := strings.ToLower(pw)
	if commonPasswords[lower] {
		return ErrPasswordCommon
	}
	local, _, _ := strings.Cut(strings.ToLower(email), "@")
	if lower == strings.ToLower(email) || (len(local) >= 4 && lower == local) || (name != "" && lower == strings.ToLower(strings.ReplaceAll(name, " ", ""))) {
		return ErrPasswordCommon
	}
	// One character repeated is as weak as a common password.
	if strings.Count(lower, string([]rune(lower)[0])) == n {
		return ErrPasswordCommon
	}
	return nil
}

// hashSlots limits concurrent hashing, so a burst of sign-ins cannot
// exhaust memory (each hash takes 19 MiB).
var hashSlots = make(chan struct{}, max(2, runtime.NumCPU()))

func withSlot(ctx context.Context, f func()) error {
	select {
	case hashSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-hashSlots }()
	f()
	return nil
}

// HashPassword returns an encoded argon2id hash with a random salt.
func HashPassword(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	var key []byte
	if err := withSlot(ctx, func() { key = argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen) }); err != nil {
		return "", err
	}
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword checks pw against an encoded hash in constant time.
func VerifyPassword(ctx context.Context, encoded, pw string) (bool, error) {
	var version int
	var memory uint32
	var iterations uint32
	var threads uint8
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("account: unknown password hash format")
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("account: unknown argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &iterations, &threads); err != nil {
		return false, errors.New("account: bad argon2 parameters")
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, err
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil {
		return false, err
	}
	var got []byte
	if err := withSlot(ctx, func() { got = argon2.IDKey([]byte(pw), salt, iterations, memory, threads, uint32(len(want))) }); err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is verified when an account does not exist, so that sign-in
// takes as long either way.
var dummyHash, _ = HashPassword(context.Background(), "not a real password, only for timing")

// GeneratePassword makes a random password for accounts created by an
// administrator (shown once).
func GeneratePassword() string {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
