package studio

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, testenv.StartDatabase) }

func TestImportIsRevisionedAndIdempotent(t *testing.T) {
	ctx := context.Background()
	db := env.Database()
	if err := EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := EnsureIndexes(ctx, db); err != nil {
		t.Fatalf("indexes are not idempotent: %v", err)
	}
	store := NewStore(db)
	if _, err := store.LoadPublished(ctx); !errors.Is(err, course.ErrNothingPublished) {
		t.Fatalf("empty store: %v", err)
	}

	res, _, err := store.Import(ctx, testenv.CourseFixture(t, nil), "test")
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 1 || len(res.Changed) < 10 || res.Unchanged != 0 {
		t.Fatalf("first import = %+v", res)
	}
	pub, err := store.LoadPublished(ctx)
	if err != nil || pub.Version != 1 || pub.Course.Meta.Title != "Testikurssi" {
		t.Fatalf("published = %+v, %v", pub, err)
	}

	// Unchanged files: nothing happens.
	res, _, err = store.Import(ctx, testenv.CourseFixture(t, nil), "test")
	if err != nil || res.Version != 1 || len(res.Changed) != 0 || len(res.Deleted) != 0 {
		t.Fatalf("re-import = %+v, %v", res, err)
	}

	// One changed file: one new revision, a new version.
	const f = "modules/02-toinen/01-jatko.md"
	changed := strings.Replace(testenv.ReadCourseFixture(t, f), "## Jatko", "## Jatko uudelleen", 1)
	res, _, err = store.Import(ctx, testenv.CourseFixture(t, map[string]string{f: changed}), "test")
	if err != nil || res.Version != 2 || len(res.Changed) != 1 || res.Changed[0] != f {
		t.Fatalf("import of a change = %+v, %v", res, err)
	}
	hist, err := store.History(ctx, f)
	if err != nil || len(hist) != 2 || hist[0].Rev != 2 || hist[1].Rev != 1 {
		t.Fatalf("history = %+v, %v", hist, err)
	}

	// A library following the store picks the new version up.
	lib, err := course.NewLibrary(ctx, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || lib.Current().Version != 2 {
		t.Fatalf("library: %v", err)
	}
	sec := lib.Current().Course.Modules[1].Sections[0]
	if !strings.Contains(sec.Body.HTML, "Jatko uudelleen") {
		t.Fatalf("library serves old text: %s", sec.Body.HTML)
	}

	// A removed file is deleted as a revision.
	res, _, err = store.Import(ctx, testenv.CourseFixture(t, map[string]string{f: changed, "media/m-testivideo.md": "", "modules/01-ensimmainen/01-alku.md": strings.Replace(strings.Replace(testenv.ReadCourseFixture(t, "modules/01-ensimmainen/01-alku.md"), "::video[Testivideo]{#m-testivideo}", "", 1), "media: [m-testivideo]\n", "", 1)}), "test")
	if err != nil || res.Version != 3 || len(res.Deleted) != 1 {
		t.Fatalf("import with a deletion = %+v, %v", res, err)
	}
	if err := lib.Refresh(ctx); err != nil || lib.Current().Version != 3 || len(lib.Current().Course.Media) != 0 {
		t.Fatalf("refresh: %v, version %d", err, lib.Current().Version)
	}

	// Invalid content is refused and nothing is written.
	_, _, err = store.Import(ctx, testenv.CourseFixture(t, map[string]string{f: "no frontmatter"}), "test")
	if !errors.Is(err, course.ErrInvalid) || !strings.Contains(err.Error(), f+":1:1:") {
		t.Fatalf("invalid import: %v", err)
	}
	if v, _ := store.PublishedVersion(ctx); v != 3 {
		t.Fatalf("invalid import changed the version to %d", v)
	}
	if hist, _ := store.History(ctx, f); len(hist) != 2 {
		t.Fatalf("invalid import wrote a revision: %d", len(hist))
	}
}
