package content

import (
	"bufio"
	"flag"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// The course text is ours: facts and figures come from the source
// documents, sentences do not. No run of eight words may be the same as a
// run in a source document, except inside a title or a law's name
// (_testdata/overlap-allowed.txt) or a quotation (a Markdown line that
// starts with ">").
//
// The sources are not part of the repository; _testdata/seed-shingles.txt
// holds the FNV-64a hash of every run of eight words in them (the folder
// starts with "_", so the binary does not embed it). Rebuild it when the
// sources change:
//
//	go test ./content -run TestNoRunOfEightWordsFromASource -seeds ../../shared/seeds
var seedsDir = flag.String("seeds", "", "rebuild _testdata/seed-shingles.txt from the source documents in this folder")

const shingle = 8

var (
	listItem   = regexp.MustCompile(`^(?:[-*+]|\d+[.)])\s`)
	linkTarget = regexp.MustCompile(`\]\([^)]*\)`)
	blockAttrs = regexp.MustCompile(`\{[^}]*\}`)
)

// words splits text into lower-case words; punctuation other than a
// hyphen or a colon inside a word ends a word and is dropped, so "laki,"
// and "laki" are the same word.
func words(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '§' || r == '%')
	}) {
		f = strings.Trim(f, "-")
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

func hashRun(ws []string) uint64 {
	h := fnv.New64a()
	for _, w := range ws {
		h.Write([]byte(w))
		h.Write([]byte{' '})
	}
	return h.Sum64()
}

func runs(ws []string) []uint64 {
	var out []uint64
	for i := 0; i+shingle <= len(ws); i++ {
		out = append(out, hashRun(ws[i:i+shingle]))
	}
	return out
}

func TestNoRunOfEightWordsFromASource(t *testing.T) {
	if *seedsDir != "" {
		rebuildSeedShingles(t, *seedsDir)
	}
	seeds := map[uint64]bool{}
	f, err := os.Open("_testdata/seed-shingles.txt")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseUint(line, 16, 64)
		if err != nil {
			t.Fatalf("seed-shingles.txt: %q: %v", line, err)
		}
		seeds[v] = true
	}
	f.Close()
	if len(seeds) < 1000 {
		t.Fatalf("only %d seed runs: is _testdata/seed-shingles.txt complete?", len(seeds))
	}

	// Runs inside an allowed phrase (a title, a law's or a programme's
	// name) are fine.
	allowed := map[uint64]bool{}
	data, err := os.ReadFile("_testdata/overlap-allowed.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			for _, h := range runs(words(line)) {
				allowed[h] = true
			}
		}
	}

	err = fs.WalkDir(Bundled(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(p); ext != ".md" && ext != ".yaml" {
			return nil
		}
		b, err := fs.ReadFile(Bundled(), p)
		if err != nil {
			return err
		}
		// Words keep the line they are on, so that a finding names it.
		var ws []string
		var lines []int
		for n, line := range strings.Split(string(b), "\n") {
			trimmed := strings.TrimSpace(line)
			if strings.HasPrefix(trimmed, ">") {
				ws = append(ws, "\x00") // a quotation may follow its source
				lines = append(lines, n+1)
				continue
			}
			// A run does not go on from one list item, heading, table row
			// or paragraph to the next.
			if listItem.MatchString(trimmed) || strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, "|") || trimmed == "" {
				ws = append(ws, "\x00")
				lines = append(lines, n+1)
			}
			// Link targets and block attributes are not prose.
			line = linkTarget.ReplaceAllString(line, "] ")
			line = blockAttrs.ReplaceAllString(line, " ")
			for _, w := range words(line) {
				ws = append(ws, w)
				lines = append(lines, n+1)
			}
		}
		reported := -1
		for i := 0; i+shingle <= len(ws); i++ {
			run := ws[i : i+shingle]
			if slices.Contains(run, "\x00") {
				continue
			}
			h := hashRun(run)
			if seeds[h] && !allowed[h] && lines[i] != reported {
				reported = lines[i]
				t.Errorf("%s:%d: %q is a run of %d words from a source document; say it in our own words", p, lines[i], strings.Join(run, " "), shingle)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// rebuildSeedShingles writes the hashes of every run of eight words in the
// source documents (*.txt except README.txt) to _testdata/seed-shingles.txt.
func rebuildSeedShingles(t *testing.T, dir string) {
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no source documents in %s: %v", dir, err)
	}
	set := map[uint64]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range runs(words(string(b))) {
			set[h] = true
		}
	}
	hs := make([]uint64, 0, len(set))
	for h := range set {
		hs = append(hs, h)
	}
	slices.Sort(hs)
	var sb strings.Builder
	fmt.Fprintf(&sb, "# FNV-64a of every run of %d words in the %d source documents (content/overlap_test.go)\n", shingle, len(files))
	for _, h := range hs {
		fmt.Fprintf(&sb, "%016x\n", h)
	}
	if err := os.WriteFile("_testdata/seed-shingles.txt", []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
