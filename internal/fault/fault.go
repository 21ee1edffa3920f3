// Package fault is the one way domain packages refuse something: an Error
// with a stable code, a kind and, for forms, the field it concerns. The
// HTTP layer maps the kind to a status, the code to an RFC 9457 problem
// type and to the message "fault.<code>" of the catalogue (internal/i18n)
// in the reader's language; the English detail is for logs and tests and
// never reaches a client. Failures that are not refusals (a store that
// does not answer) stay plain errors and become 500s.
package fault

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Kind is what sort of refusal an error is.
type Kind uint8

// Kinds.
const (
	// Invalid: the request or a form field is wrong (400, or 422 for a
	// form that is shown again with the message).
	Invalid Kind = iota + 1
	// NotFound: no such thing, or not the asker's (404).
	NotFound
	// Conflict: the thing's state refuses it now (409).
	Conflict
	// Forbidden: a rule refuses this person (403).
	Forbidden
	// Busy: try again in a moment (503).
	Busy
	// TooLarge: over a size limit (413).
	TooLarge
	// Unsupported: a format this platform does not take (415).
	Unsupported
)

// Error is a refusal with a stable code.
type Error struct {
	Kind Kind
	// Code is stable and snake_case ("exam_closed"): clients may rely on
	// it; the message key is "fault." + Code.
	Code string
	// Field is the form field the refusal concerns ("" for none).
	Field string
	// Args fill the verbs (%s, %d) of the message and of the detail.
	Args   []any
	detail string
	cause  error
}

// New makes a refusal (package-level variables, so that errors.Is works)
// and registers its code, which must be new.
func New(kind Kind, code, field, detail string) *Error {
	if code == "" || strings.ToLower(code) != code || strings.ContainsAny(code, " -.") {
		panic("fault: a code is snake_case: " + code)
	}
	mu.Lock()
	defer mu.Unlock()
	if slices.Contains(codes, code) {
		panic("fault: code used twice: " + code)
	}
	codes = append(codes, code)
	return &Error{Kind: kind, Code: code, Field: field, detail: detail}
}

// Error is the English detail (logs and tests).
func (e *Error) Error() string {
	if len(e.Args) > 0 {
		return fmt.Sprintf(e.detail, e.Args...)
	}
	return e.detail
}

// With is a copy of the refusal carrying the values of its verbs: the
// catalogue's messages and the English detail have the same verbs.
func (e *Error) With(args ...any) *Error {
	c := *e
	c.Args = args
	return &c
}

// Is matches a refusal of the same code, so a refusal wrapped or copied
// still is its sentinel.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// MessageKey is the catalogue key of the refusal's message.
func (e *Error) MessageKey() string { return "fault." + e.Code }

// WithCause is With keeping the error that made the refusal, for errors.As
// (a parser's line-numbered problems that a command prints its own way).
func (e *Error) WithCause(cause error, args ...any) *Error {
	c := e.With(args...)
	c.cause = cause
	return c
}

// Unwrap is the cause given to WithCause, if any.
func (e *Error) Unwrap() error { return e.cause }

// As finds the refusal in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

var (
	mu    sync.Mutex
	codes []string
)

// Codes lists every registered code, sorted (the catalogue test checks
// that each has its message in every language).
func Codes() []string {
	mu.Lock()
	defer mu.Unlock()
	out := slices.Clone(codes)
	slices.Sort(out)
	return out
}
