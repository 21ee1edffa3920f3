package notify

import (
	"slices"
	"testing"
)

func TestListeners(t *testing.T) {
	var l Listeners
	l.Tell("nobody listens")
	var a, b []string
	l.Add(func(id string) { a = append(a, id) })
	l.Tell("u1")
	l.Add(func(id string) { b = append(b, id) })
	l.Tell("u2")
	l.Tell("")
	if !slices.Equal(a, []string{"u1", "u2"}) || !slices.Equal(b, []string{"u2"}) {
		t.Fatalf("a %v, b %v", a, b)
	}
}
