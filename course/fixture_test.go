package course

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// fixtureWith is the test course with some files replaced (or removed,
// with an empty string).
func fixtureWith(t testing.TB, replace map[string]string) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	root := "testdata/course"
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = &fstest.MapFile{Data: data}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, v := range replace {
		if v == "" {
			delete(out, p)
			continue
		}
		out[p] = &fstest.MapFile{Data: []byte(v)}
	}
	return out
}

func readFixture(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/course", p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFixtureCourseIsValid(t *testing.T) {
	c, problems := Load(os.DirFS("testdata/course"))
	if len(problems) > 0 {
		t.Fatalf("fixture has problems:\n%s", problems.Error())
	}
	if len(c.Modules) != 2 || len(c.Modules[0].Sections) != 2 || c.TotalMinutes() != 90 {
		t.Fatalf("fixture = %s", c.Summary())
	}
}
