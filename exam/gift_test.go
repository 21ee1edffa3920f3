package exam

import (
	"flag"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tyokyky/tyokyky/course"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// The GIFT import of a sample with every construct: what is imported is
// compared with sample.yaml, what is reported with sample.problems.
func TestImportGIFTGolden(t *testing.T) {
	src, err := os.ReadFile("testdata/gift/sample.gift")
	if err != nil {
		t.Fatal(err)
	}
	items, problems := ImportGIFT(string(src), "m1-")
	out, err := GIFTYAML("01-tyokyvyn-tuki", items)
	if err != nil {
		t.Fatal(err)
	}
	var ps strings.Builder
	for _, p := range problems {
		ps.WriteString(p.String() + "\n")
	}
	for file, got := range map[string]string{"testdata/gift/sample.yaml": string(out), "testdata/gift/sample.problems": ps.String()} {
		if *update {
			os.WriteFile(file, []byte(got), 0o644)
			continue
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if string(want) != got {
			t.Errorf("%s differs:\n%s", file, got)
		}
	}
}

// What the import writes is a valid bank file.
func TestImportedGIFTIsAValidBankFile(t *testing.T) {
	src, _ := os.ReadFile("testdata/gift/sample.gift")
	items, _ := ImportGIFT(string(src), "e-")
	out, err := GIFTYAML("01-ensimmainen", items)
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{}
	root := os.DirFS("../course/testdata/course")
	fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := fs.ReadFile(root, p)
			fsys[p] = &fstest.MapFile{Data: data}
		}
		return nil
	})
	fsys["exam/01-ensimmainen.yaml"] = &fstest.MapFile{Data: out}
	c, problems := course.Load(fsys)
	if len(problems) > 0 {
		t.Fatalf("the imported bank has problems:\n%s\n%s", problems.Error(), out)
	}
	if n := len(c.Exam.ByModule["ensimmainen"]); n != len(items) {
		t.Fatalf("%d items loaded of %d", n, len(items))
	}
}
