package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/tyokyky/tyokyky/content"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/studio"
)

const contentUsage = `Usage:
  tyokyky content check [DIR]           check a content folder (default ./content); exit 1 on problems
  tyokyky content import DIR [flags]    check DIR and store changed files as new revisions
  tyokyky content export DIR [--drafts] [flags]
                                        write the published tree (with --drafts, the authors'
                                        drafts over it) into DIR in the layout of content/;
                                        importing DIR again changes nothing
`

func contentCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, contentUsage)
		return exitUsage
	}
	switch args[0] {
	case "check":
		dir := "content"
		if len(args) > 1 {
			dir = args[1]
		}
		if len(args) > 2 {
			fmt.Fprint(stderr, contentUsage)
			return exitUsage
		}
		return contentCheck(dir, stdout, stderr)
	case "import":
		if len(args) < 2 || args[1] == "" || args[1][0] == '-' {
			fmt.Fprint(stderr, contentUsage)
			return exitUsage
		}
		return contentImport(args[1], args[2:], getenv, stdout, stderr)
	case "export":
		if len(args) < 2 || args[1] == "" || args[1][0] == '-' {
			fmt.Fprint(stderr, contentUsage)
			return exitUsage
		}
		return contentExport(args[1], args[2:], getenv, stdout, stderr)
	}
	fmt.Fprint(stderr, contentUsage)
	return exitUsage
}

func contentCheck(dir string, stdout, stderr io.Writer) int {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "tyokyky: content check: %s is not a folder\n", dir)
		return exitUsage
	}
	c, problems := course.Load(os.DirFS(dir))
	if len(problems) == 0 {
		// Time budgets, media lengths and the exam's objectives: they do
		// not stop a publication, but a finished course has none.
		problems = c.Advice()
	}
	for _, p := range problems {
		p.File = filepath.Join(dir, p.File)
		fmt.Fprintln(stdout, p.String())
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "%d problems\n", len(problems))
		return exitFailure
	}
	fmt.Fprintf(stdout, "ok: %s\n", c.Summary())
	return exitOK
}

func contentImport(dir string, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, code := loadConfig("content import", args, getenv, stderr)
	if cfg == nil {
		return code
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "tyokyky: content import: %s is not a folder\n", dir)
		return exitUsage
	}
	ctx, db, done, ok := attach(cfg, 5*time.Minute, stderr)
	if !ok {
		return exitFailure
	}
	defer done()
	if err := studio.EnsureIndexes(ctx, db); err != nil {
		fmt.Fprintf(stderr, "tyokyky: %v\n", err)
		return exitFailure
	}
	res, err := importContent(ctx, studio.NewStore(db), os.DirFS(dir), "cli")
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: %v\n", err)
		return exitFailure
	}
	for _, p := range res.Changed {
		fmt.Fprintf(stdout, "changed %s\n", p)
	}
	for _, p := range res.Deleted {
		fmt.Fprintf(stdout, "deleted %s\n", p)
	}
	fmt.Fprintf(stdout, "%d changed, %d deleted, %d unchanged; published version %d\n", len(res.Changed), len(res.Deleted), res.Unchanged, res.Version)
	return exitOK
}

func contentExport(dir string, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	drafts := false
	var rest []string
	for _, a := range args {
		if a == "--drafts" || a == "-drafts" {
			drafts = true
			continue
		}
		rest = append(rest, a)
	}
	cfg, code := loadConfig("content export", rest, getenv, stderr)
	if cfg == nil {
		return code
	}
	ctx, db, done, ok := attach(cfg, 5*time.Minute, stderr)
	if !ok {
		return exitFailure
	}
	defer done()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "tyokyky: content export: %v\n", err)
		return exitFailure
	}
	n, removed, err := studio.NewStore(db).Export(ctx, dir, drafts)
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: content export: %v\n", err)
		return exitFailure
	}
	what := "published"
	if drafts {
		what = "published, with the drafts over it"
	}
	fmt.Fprintf(stdout, "%d files written to %s (%s), %d no longer in the course removed\n", n, dir, what, removed)
	return exitOK
}

// importContent imports, retrying when another process imported at the
// same moment (several servers starting together).
func importContent(ctx context.Context, store *studio.Store, fsys fs.FS, by string) (*studio.ImportResult, error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		res, _, err := store.Import(ctx, fsys, by)
		if err == nil {
			return res, nil
		}
		if errors.Is(err, course.ErrInvalid) {
			return nil, err
		}
		lastErr = err
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
	}
	return nil, lastErr
}

// contentFS is the configured content folder, or the bundled course.
func contentFS(dir string) fs.FS {
	if dir == "" {
		return content.Bundled()
	}
	return os.DirFS(dir)
}
