package backup

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// Report is what reading an archive found.
type Report struct {
	// Manifest is nil when the archive has none that this binary reads.
	Manifest *Manifest
	// Entries and Bytes count what was read (uncompressed).
	Entries  int
	Bytes    int64
	Problems []Problem
}

// Err is nil when the archive is sound, else an error naming every
// problem, one a line.
func (r *Report) Err() error {
	if len(r.Problems) == 0 {
		return nil
	}
	lines := make([]string, len(r.Problems))
	for i, p := range r.Problems {
		lines[i] = p.String()
	}
	return &ArchiveError{Problems: r.Problems, text: strings.Join(lines, "\n")}
}

// ArchiveError is a damaged or unreadable archive.
type ArchiveError struct {
	Problems []Problem
	text     string
}

func (e *ArchiveError) Error() string { return e.text }

// Verify reads a whole archive and checks every entry against the
// manifest: the format is one this binary knows; every entry the manifest
// names is there with its size, SHA-256 and document count; nothing else
// is; the counts add up. An error reading r is reported as a problem of
// the entry being read.
func Verify(r io.Reader) *Report {
	res, _ := walk(r, visitor{})
	return res.report()
}

// visitor receives an archive's contents as walk reads them.
type visitor struct {
	// doc gets each document of a documents entry (db/…); the document
	// is valid only during the call.
	doc func(entry string, doc bson.Raw) error
	// body gets every other entry but the manifest, to read as it likes
	// (what it leaves is read and checked all the same).
	body func(entry string, size int64, r io.Reader) error
}

// walkResult is what walk read.
type walkResult struct {
	got      map[string]expected
	order    []string
	manifest []byte
	bytes    int64
	problems []Problem
	// broken: reading stopped early (the rest of the archive is unknown).
	broken bool
	// trailer is a problem found after the last entry (the zstd frame's
	// checksum), told after the entries' own.
	trailer *Problem
}

// walk reads the archive entry by entry, hashing each; a visitor's error
// stops it and is returned, the archive's own problems are in the result.
func walk(r io.Reader, v visitor) (*walkResult, error) {
	res := &walkResult{got: map[string]expected{}}
	zr, err := zstd.NewReader(r, zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		res.fail("archive", fmt.Sprintf("not a zstd stream: %v", err))
		return res, nil
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	last := ""
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			where := "at its start"
			if last != "" {
				where = "after " + last
			}
			res.fail("archive", describe(err)+" "+where)
			return res, nil
		}
		name := hdr.Name
		if hdr.Typeflag != tar.TypeReg {
			res.problems = append(res.problems, Problem{name, "is not a regular file"})
			continue
		}
		if _, dup := res.got[name]; dup {
			res.problems = append(res.problems, Problem{name, "is in the archive twice"})
		}
		hr := &hashingReader{r: tr, h: sha256.New()}
		got := expected{docs: -1}
		var verr error // the visitor's or the entry's own
		switch {
		case name == ManifestEntry:
			res.manifest, _ = io.ReadAll(io.LimitReader(hr, maxManifest+1))
			if len(res.manifest) > maxManifest {
				res.problems = append(res.problems, Problem{name, "is too large"})
				res.manifest = nil
			}
		case strings.HasPrefix(name, "db/"):
			got.docs, verr = readDocs(hr, name, v.doc)
		case v.body != nil:
			verr = v.body(name, hdr.Size, hr)
		}
		if _, err := io.Copy(io.Discard, hr); err != nil && hr.err == nil {
			hr.err = err
		}
		if hr.err != nil {
			// The archive itself could not be read: nothing after this
			// point can be trusted or reached.
			res.fail(name, describe(hr.err))
			return res, nil
		}
		var pe *entryProblem
		if errors.As(verr, &pe) {
			res.problems = append(res.problems, Problem{name, pe.msg})
		} else if verr != nil {
			return res, verr
		}
		got.size, got.sha256 = hr.n, hr.sum()
		res.got[name] = got
		res.order = append(res.order, name)
		res.bytes += hr.n
		last = name
	}
	// The zstd frame's own checksum is checked at its end, after the
	// tar's last block.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		res.trailer = &Problem{"archive", describe(err) + " after its last entry"}
	}
	return res, nil
}

func (res *walkResult) fail(entry, msg string) {
	res.problems = append(res.problems, Problem{entry, msg})
	res.broken = true
}

// describe turns a read error into words.
func describe(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "truncated"
	}
	return "unreadable: " + err.Error()
}

// entryProblem is something wrong inside one entry that does not stop
// the reading.
type entryProblem struct{ msg string }

func (e *entryProblem) Error() string { return e.msg }

// maxDocument bounds a BSON document (MongoDB's limit is 16 MiB; its
// wire messages take up to 48 MB).
const maxDocument = 48 << 20

// readDocs reads concatenated BSON documents, checking each, and gives
// them to fn. It returns how many there were.
func readDocs(r io.Reader, entry string, fn func(string, bson.Raw) error) (int64, error) {
	var n int64
	var head [4]byte
	buf := make([]byte, 0, 64<<10)
	for {
		if _, err := io.ReadFull(r, head[:]); err == io.EOF {
			return n, nil
		} else if err != nil {
			return n, &entryProblem{fmt.Sprintf("ends inside document %d", n+1)}
		}
		size := int(binary.LittleEndian.Uint32(head[:]))
		if size < 5 || size > maxDocument {
			return n, &entryProblem{fmt.Sprintf("document %d is not BSON (length %d)", n+1, size)}
		}
		if cap(buf) < size {
			buf = make([]byte, 0, size)
		}
		doc := buf[:size]
		copy(doc, head[:])
		if _, err := io.ReadFull(r, doc[4:]); err != nil {
			return n, &entryProblem{fmt.Sprintf("ends inside document %d", n+1)}
		}
		if err := bson.Raw(doc).Validate(); err != nil {
			return n, &entryProblem{fmt.Sprintf("document %d is not valid BSON: %v", n+1, err)}
		}
		n++
		if fn != nil {
			if err := fn(entry, bson.Raw(doc)); err != nil {
				return n, err
			}
		}
	}
}

// report checks what walk read against the manifest.
func (res *walkResult) report() *Report {
	rep := res.compare()
	if res.trailer != nil {
		rep.Problems = append(rep.Problems, *res.trailer)
	}
	return rep
}

func (res *walkResult) compare() *Report {
	rep := &Report{Entries: len(res.order), Bytes: res.bytes, Problems: res.problems}
	if res.manifest == nil {
		if !res.broken {
			rep.Problems = append(rep.Problems, Problem{ManifestEntry, "missing: the archive is truncated or not a tyokyky backup"})
		} else {
			rep.Problems = append(rep.Problems, Problem{ManifestEntry, "not reached"})
		}
		return rep
	}
	m, problems := parseManifest(res.manifest)
	rep.Problems = append(rep.Problems, problems...)
	if m == nil {
		return rep
	}
	rep.Manifest = m
	rep.Problems = append(rep.Problems, m.check()...)
	want, dup := m.entries()
	rep.Problems = append(rep.Problems, dup...)
	for _, name := range res.order {
		if _, ok := want[name]; !ok && name != ManifestEntry {
			rep.Problems = append(rep.Problems, Problem{name, "is not in the manifest"})
		}
	}
	for _, name := range m.entryOrder() {
		w := want[name]
		got, ok := res.got[name]
		switch {
		case !ok && res.broken:
			// Already reported: the archive could not be read this far.
		case !ok:
			rep.Problems = append(rep.Problems, Problem{name, "missing"})
		case got.size != w.size:
			rep.Problems = append(rep.Problems, Problem{name, fmt.Sprintf("size %d, the manifest says %d", got.size, w.size)})
		case got.sha256 != w.sha256:
			rep.Problems = append(rep.Problems, Problem{name, "checksum mismatch"})
		case w.docs >= 0 && got.docs != w.docs:
			rep.Problems = append(rep.Problems, Problem{name, fmt.Sprintf("%d documents, the manifest says %d", got.docs, w.docs)})
		}
	}
	return rep
}

// parseManifest reads a manifest, refusing a format this binary does not
// know before anything else.
func parseManifest(data []byte) (*Manifest, []Problem) {
	var head struct {
		Format *int `json:"format"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, []Problem{{ManifestEntry, "unreadable: " + err.Error()}}
	}
	switch {
	case head.Format == nil:
		return nil, []Problem{{"manifest", "has no format version"}}
	case *head.Format > Format:
		return nil, []Problem{{"manifest", fmt.Sprintf("format %d is newer than this binary knows (%d); restore it with a newer tyokyky", *head.Format, Format)}}
	case *head.Format < 1:
		return nil, []Problem{{"manifest", fmt.Sprintf("format %d is not a tyokyky backup format", *head.Format)}}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, []Problem{{ManifestEntry, "unreadable: " + err.Error()}}
	}
	return &m, nil
}

// entryOrder is the manifest's entries in archive order.
func (m *Manifest) entryOrder() []string {
	var out []string
	for _, c := range m.Collections {
		for _, p := range c.Parts {
			out = append(out, p.Entry)
		}
	}
	for _, o := range m.Objects {
		out = append(out, o.Entry)
	}
	for _, k := range m.KeyFiles {
		out = append(out, k.Entry)
	}
	return out
}
