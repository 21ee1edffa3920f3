package api

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// byteRange is an inclusive range of bytes of a representation.
type byteRange struct{ start, end int64 }

func (r byteRange) length() int64 { return r.end - r.start + 1 }

func (r byteRange) contentRange(size int64) string {
	return "bytes " + strconv.FormatInt(r.start, 10) + "-" + strconv.FormatInt(r.end, 10) + "/" + strconv.FormatInt(size, 10)
}

// errUnsatisfiable: no range of the request overlaps the representation.
var errUnsatisfiable = errors.New("range not satisfiable")

// maxRanges bounds a multi-range request (more is a denial-of-service
// pattern, RFC 9110 section 14.2).
const maxRanges = 16

// parseRange reads a Range header (RFC 9110 section 14.1.2) for a
// representation of size bytes. It returns nil for a header to ignore
// (absent, another unit or malformed: the whole representation is sent),
// and errUnsatisfiable when no range overlaps.
func parseRange(header string, size int64) ([]byteRange, error) {
	unit, spec, ok := strings.Cut(strings.TrimSpace(header), "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return nil, nil
	}
	var out []byteRange
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		first, last, ok := strings.Cut(part, "-")
		if !ok {
			return nil, nil
		}
		first, last = strings.TrimSpace(first), strings.TrimSpace(last)
		var r byteRange
		if first == "" { // suffix: the last N bytes
			n, err := strconv.ParseInt(last, 10, 64)
			if err != nil || n < 0 {
				return nil, nil
			}
			if n == 0 {
				continue
			}
			if n > size {
				n = size
			}
			r = byteRange{size - n, size - 1}
		} else {
			s, err := strconv.ParseInt(first, 10, 64)
			if err != nil || s < 0 {
				return nil, nil
			}
			e := size - 1
			if last != "" {
				if e, err = strconv.ParseInt(last, 10, 64); err != nil || e < s {
					return nil, nil
				}
				if e > size-1 {
					e = size - 1
				}
			}
			if s >= size {
				continue
			}
			r = byteRange{s, e}
		}
		if size == 0 || r.end < r.start {
			continue
		}
		out = append(out, r)
		if len(out) > maxRanges {
			return nil, nil
		}
	}
	if len(out) == 0 {
		return nil, errUnsatisfiable
	}
	return coalesce(out), nil
}

// coalesce merges overlapping and adjacent ranges (and those a few bytes
// apart, where a part's headers would cost more than the gap), in
// ascending order, as RFC 9110 section 14.2 allows: overlapping ranges
// can no longer make a response larger than the representation, nor cost
// a storage read each.
func coalesce(rs []byteRange) []byteRange {
	const gap = 80 // about the size of a multipart part's headers
	slices.SortFunc(rs, func(a, b byteRange) int { return cmp.Compare(a.start, b.start) })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if r.start <= last.end+1+gap {
			last.end = max(last.end, r.end)
			continue
		}
		out = append(out, r)
	}
	return out
}
