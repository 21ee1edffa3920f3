package testenv

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// CourseFixtureDir is the small test course (course/testdata/course).
func CourseFixtureDir(t testing.TB) string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "course", "testdata", "course")
}

// CourseFixture is the test course as a file tree, with some files
// replaced (or removed, with an empty string).
func CourseFixture(t testing.TB, replace map[string]string) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	root := CourseFixtureDir(t)
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

// ReadCourseFixture is one file of the test course.
func ReadCourseFixture(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(CourseFixtureDir(t), p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
