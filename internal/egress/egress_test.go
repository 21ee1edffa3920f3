package egress

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestAllowed(t *testing.T) {
	for _, c := range []struct {
		ip    string
		allow string
		want  bool
	}{
		{"93.184.216.34", "", true},
		{"2606:4700:4700::1111", "", true},
		{"127.0.0.1", "", false},
		{"::1", "", false},
		{"::ffff:127.0.0.1", "", false},
		{"169.254.169.254", "", false},
		{"10.1.2.3", "", false},
		{"172.20.0.1", "", false},
		{"192.168.1.10", "", false},
		{"100.64.0.1", "", false},
		{"0.0.0.0", "", false},
		{"fd00::1", "", false},
		{"fe80::1", "", false},
		{"224.0.0.1", "", false},
		{"10.1.2.3", "10.0.0.0/8", true},
		{"10.1.2.3", "10.1.2.3", true},
		{"10.1.2.4", "10.1.2.3", false},
		{"127.0.0.1", "127.0.0.0/8, ::1", true},
		{"169.254.169.254", "10.0.0.0/8", false},
	} {
		allow, err := ParseNetworks(c.allow)
		if err != nil {
			t.Fatal(err)
		}
		if got := Allowed(netip.MustParseAddr(c.ip), allow); got != c.want {
			t.Errorf("Allowed(%s, %q) = %v, want %v", c.ip, c.allow, got, c.want)
		}
	}
	if _, err := ParseNetworks("10.0.0.0/8, intranet"); err == nil {
		t.Error("a name was taken for a network")
	}
}

// A real connection: refused to the loopback server by default, made
// when loopback is allowed; the refusal says why.
func TestClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	_, err := Client(5*time.Second, nil).Get(srv.URL)
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Addr.String() != "127.0.0.1" {
		t.Fatalf("a call to the loopback address: %v", err)
	}
	resp, err := Client(5*time.Second, Loopback).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("allowed = %d", resp.StatusCode)
	}
}
