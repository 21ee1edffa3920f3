package fault

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestRefusals(t *testing.T) {
	closed := New(Conflict, "test_closed", "", "the thing is closed")
	other := New(Invalid, "test_other", "name", "the name is wrong")
	wrapped := fmt.Errorf("saving: %w", closed)
	if !errors.Is(wrapped, closed) || errors.Is(wrapped, other) {
		t.Fatal("errors.Is does not follow the code")
	}
	e, ok := As(wrapped)
	if !ok || e.Kind != Conflict || e.MessageKey() != "fault.test_closed" || e.Error() != "the thing is closed" {
		t.Fatalf("As: %+v %v", e, ok)
	}
	cause := errors.New("line 5: bad")
	withCause := other.WithCause(cause, "x")
	if !errors.Is(withCause, other) || !errors.Is(withCause, cause) || withCause.Args[0] != "x" {
		t.Fatal("WithCause loses the code or the cause")
	}
	if _, ok := As(errors.New("plain")); ok {
		t.Fatal("a plain error is a refusal")
	}
	if !slices.Contains(Codes(), "test_other") {
		t.Fatal("code not registered")
	}
	for _, bad := range []string{"", "Has-Caps", "with-dash", "test_closed"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("code %q accepted", bad)
				}
			}()
			New(Invalid, bad, "", "x")
		}()
	}
}
