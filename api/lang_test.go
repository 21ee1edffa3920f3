package api

import (
	"testing"

	"github.com/tyokyky/tyokyky/web"
)

func TestNegotiate(t *testing.T) {
	for header, want := range map[string]string{
		"":                        "fi",
		"sv-FI,sv;q=0.9,en;q=0.8": "sv",
		"en-GB,en;q=0.9":          "en",
		"de-DE,en;q=0.5,fi;q=0.7": "fi",
		"de":                      "fi",
		"nb-NO,sv;q=0.2":          "sv",
		"EN-us":                   "en",
		"fi;q=0, sv;q=0.1":        "sv",
		"*":                       "fi",
		"en;q=abc":                "en",
		"sv;q=0.5,en;q=0.5":       "sv",
		",,,;;;q=":                "fi",
	} {
		if got := negotiate(header); got != want {
			t.Errorf("negotiate(%q) = %q, want %q", header, got, want)
		}
	}
}

// FuzzNegotiate: any Accept-Language header gives one of our languages.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"", "fi", "sv-FI,sv;q=0.9", "en;q=0.1,*;q=0.01", "q=1;q=2,,;", "\xff\xfe", "fi;q=NaN", "sv;q=1e309"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got := negotiate(header)
		ok := false
		for _, l := range web.Langs {
			ok = ok || got == l
		}
		if !ok {
			t.Fatalf("negotiate(%q) = %q", header, got)
		}
	})
}

// FuzzRequestID: only safe ids are taken from the network.
func FuzzRequestID(f *testing.F) {
	for _, s := range []string{"abc-123", "<script>", "a b", "", "x\r\nSet-Cookie: y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if !validRequestID(id) {
			return
		}
		for _, r := range id {
			if r < 0x21 || r > 0x7e || r == '<' || r == '>' || r == '"' || r == '\'' {
				t.Fatalf("unsafe request id accepted: %q", id)
			}
		}
	})
}
