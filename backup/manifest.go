// Package backup takes, checks and restores logical backups of the
// platform: every collection of the document store with its indexes,
// every object of the bucket and, on request, the private key files, in
// one tar archive compressed with zstd, written and read as a stream.
//
// The archive's entries, in this order:
//
//	db/<collection>/000001.bson   the collection's documents, concatenated
//	                              BSON, in parts of at most 8 MiB
//	objects/<key>                 an object of the bucket, byte for byte
//	keys/<file>                   a private key file (--include-key-files)
//	manifest.json                 the manifest (Manifest), last
//
// The manifest comes last because only then are the checksums known; a
// reader checks every entry against it at the end.
package backup

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"
)

// Format is the archive format this binary writes and the newest it reads.
const Format = 1

// ManifestEntry is the name of the manifest in the archive.
const ManifestEntry = "manifest.json"

// maxManifest bounds the manifest a reader accepts (a million objects
// take about 250 MB).
const maxManifest = 512 << 20

// Manifest describes a backup.
type Manifest struct {
	Format int `json:"format"`
	// AppVersion is the version of the binary that took the backup.
	AppVersion string `json:"app_version"`
	// SchemaVersion is the highest migration applied (the highest _id of
	// schema_migrations; 0 without that collection).
	SchemaVersion int64 `json:"schema_version"`
	// Source is "embedded" or "mongodb".
	Source string `json:"source"`
	// Snapshot is false when the documents were not read at one point in
	// time (--no-snapshot on a deployment that cannot give one).
	Snapshot bool      `json:"snapshot"`
	Database string    `json:"database"`
	Bucket   string    `json:"bucket,omitempty"`
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended"`
	Counts   Counts    `json:"counts"`

	Collections []Collection `json:"collections"`
	Objects     []Object     `json:"objects"`
	KeyFiles    []KeyFile    `json:"key_files"`
	// KeyFilesLeftOut counts the private key files that were in the key
	// folder but not included (no --include-key-files).
	KeyFilesLeftOut int `json:"key_files_left_out,omitempty"`
}

// Counts sum up a backup.
type Counts struct {
	Collections int   `json:"collections"`
	Documents   int64 `json:"documents"`
	Objects     int   `json:"objects"`
	ObjectBytes int64 `json:"object_bytes"`
	KeyFiles    int   `json:"key_files"`
}

// Collection is one collection: its documents in parts and its indexes.
type Collection struct {
	Name      string `json:"name"`
	Documents int64  `json:"documents"`
	// Indexes are the index specifications (key, name, unique, sparse,
	// partialFilterExpression, expireAfterSeconds) in canonical extended
	// JSON, so that key order and number types survive.
	Indexes []json.RawMessage `json:"indexes"`
	Parts   []Part            `json:"parts"`
}

// Part is an entry of concatenated BSON documents.
type Part struct {
	Entry     string `json:"entry"`
	Documents int64  `json:"documents"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
}

// Object is an object of the bucket.
type Object struct {
	Key         string `json:"key"`
	Entry       string `json:"entry"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	ContentType string `json:"content_type,omitempty"`
}

// KeyFile is a private key file of the key folder.
type KeyFile struct {
	Name   string `json:"name"`
	Entry  string `json:"entry"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// expected is what the manifest says of one entry.
type expected struct {
	size   int64
	sha256 string
	docs   int64 // -1: not a documents entry
}

// entries maps every entry the manifest names to what it says of it; a
// name given twice is a problem.
func (m *Manifest) entries() (map[string]expected, []Problem) {
	out := map[string]expected{}
	var problems []Problem
	add := func(name string, e expected) {
		if _, dup := out[name]; dup {
			problems = append(problems, Problem{ManifestEntry, fmt.Sprintf("names %s twice", name)})
		}
		out[name] = e
	}
	for _, c := range m.Collections {
		for _, p := range c.Parts {
			add(p.Entry, expected{p.Size, p.SHA256, p.Documents})
		}
	}
	for _, o := range m.Objects {
		add(o.Entry, expected{o.Size, o.SHA256, -1})
	}
	for _, k := range m.KeyFiles {
		add(k.Entry, expected{k.Size, k.SHA256, -1})
	}
	return out, problems
}

// check finds what does not add up inside the manifest itself.
func (m *Manifest) check() []Problem {
	var problems []Problem
	bad := func(format string, a ...any) {
		problems = append(problems, Problem{"manifest", fmt.Sprintf(format, a...)})
	}
	var c Counts
	c.Collections = len(m.Collections)
	for _, col := range m.Collections {
		var docs int64
		for _, p := range col.Parts {
			docs += p.Documents
		}
		if docs != col.Documents {
			bad("collection %s: %d documents, but its parts hold %d", col.Name, col.Documents, docs)
		}
		if col.Name == "" {
			bad("a collection without a name")
		}
		c.Documents += col.Documents
	}
	c.Objects = len(m.Objects)
	for _, o := range m.Objects {
		c.ObjectBytes += o.Size
		if o.Key == "" {
			bad("an object without a key")
		}
	}
	c.KeyFiles = len(m.KeyFiles)
	for _, k := range m.KeyFiles {
		if !validKeyFileName(k.Name) {
			bad("key file name %q is not a plain file name", k.Name)
		}
	}
	if c != m.Counts {
		bad("the counts (%+v) do not add up to its lists (%+v)", m.Counts, c)
	}
	return problems
}

// validKeyFileName accepts a file name without folders (a restore writes
// it into the key folder).
func validKeyFileName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\\\x00") && path.Base(name) == name
}

// Entry names.
func partEntry(collection string, n int) string { return fmt.Sprintf("db/%s/%06d.bson", collection, n) }
func objectEntry(key string) string             { return "objects/" + key }
func keyFileEntry(name string) string           { return "keys/" + name }

// ArchiveName is the file name of a backup taken at t:
// tyokyky-backup-20260102T030405Z.tar.zst.
func ArchiveName(t time.Time) string {
	return "tyokyky-backup-" + t.UTC().Format("20060102T150405Z") + ".tar.zst"
}

// Problem is something wrong with one entry of an archive (or with the
// manifest, or the archive as a whole).
type Problem struct {
	Entry string
	Msg   string
}

func (p Problem) String() string { return p.Entry + ": " + p.Msg }
