package api

import (
	"strings"
	"testing"
)

// Overlapping and adjacent ranges are merged, so a multi-range request can
// never ask for more bytes than the file has, nor a storage read per
// repeated range (the review's 16 overlapping ranges returned 16 times
// the file).
func TestRangesAreCoalesced(t *testing.T) {
	const size = 10_000
	cases := []struct {
		header string
		want   []byteRange
	}{
		{"bytes=" + strings.Repeat("0-9999,", 15) + "0-9999", []byteRange{{0, 9999}}},
		{"bytes=0-499,100-599,200-699", []byteRange{{0, 699}}},
		{"bytes=0-99,100-199", []byteRange{{0, 199}}},
		{"bytes=500-599,0-99", []byteRange{{0, 99}, {500, 599}}},
		{"bytes=0-99,150-199", []byteRange{{0, 199}}}, // a gap smaller than a part's headers
		{"bytes=-100,9000-", []byteRange{{9000, 9999}}},
		{"bytes=0-0,9999-9999", []byteRange{{0, 0}, {9999, 9999}}},
	}
	for _, c := range cases {
		got, err := parseRange(c.header, size)
		if err != nil || len(got) != len(c.want) {
			t.Errorf("%.60s: %v, %v; want %v", c.header, got, err, c.want)
			continue
		}
		var total int64
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%.60s: %v, want %v", c.header, got, c.want)
			}
			total += got[i].length()
		}
		if total > size {
			t.Errorf("%.60s asks for %d bytes of a %d-byte file", c.header, total, size)
		}
	}
	// More parts than maxRanges: the header is ignored (the whole file).
	if got, err := parseRange("bytes="+strings.Repeat("0-1,", maxRanges+1)+"5-6", size); got != nil || err != nil {
		t.Errorf("%d ranges: %v %v, want the whole file", maxRanges+2, got, err)
	}
}
