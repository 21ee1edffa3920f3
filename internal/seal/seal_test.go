package seal

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpens(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	a, err := Seal(key, []byte("salaisuus"), "xapi-lrs:1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Seal(key, []byte("salaisuus"), "xapi-lrs:1")
	if bytes.Equal(a, b) || bytes.Contains(a, []byte("salaisuus")) {
		t.Fatal("sealed twice alike, or in the clear")
	}
	if plain, err := Open(key, a, "xapi-lrs:1"); err != nil || string(plain) != "salaisuus" {
		t.Fatalf("open = %q %v", plain, err)
	}
	for name, c := range map[string]struct {
		key     []byte
		sealed  []byte
		context string
	}{
		"another context": {key, a, "xapi-lrs:2"},
		"another key":     {bytes.Repeat([]byte{8}, 32), a, "xapi-lrs:1"},
		"altered":         {key, append(append([]byte{}, a[:len(a)-1]...), a[len(a)-1]^1), "xapi-lrs:1"},
		"truncated":       {key, a[:5], "xapi-lrs:1"},
	} {
		if _, err := Open(c.key, c.sealed, c.context); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Seal([]byte("lyhyt"), []byte("x"), "c"); err == nil {
		t.Fatal("a key of 5 bytes sealed")
	}
}
