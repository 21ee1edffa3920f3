package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/config"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/minioproc"
	"github.com/tyokyky/tyokyky/media"
	"github.com/tyokyky/tyokyky/studio"
)

const mediaUsage = `Usage:
  tyokyky media upload FILE --title TITLE [--id ID] [--captions fi=FILE.vtt] [flags]
                                    store a video, audio or image file (type checked by content)
  tyokyky media captions ID LANG FILE.vtt
                                    add or replace an item's WebVTT captions in LANG (fi, sv, en)
  tyokyky media list                list the media items
  tyokyky media delete ID           delete an item the course does not use
  tyokyky media gc [--grace 1h]     remove stored objects no media item points to
  tyokyky media generate [--force]  make the course's videos and podcasts from their scripts
                                    (espeak-ng speech, ffmpeg slides, captions) and store them

The commands attach to a running server's database and MinIO, or start
them for the command's duration.
`

// mediaEnv is what the media commands work with.
type mediaEnv struct {
	cfg   *config.Config
	db    *database.DB
	minio *minioproc.Process
	lib   *media.Catalog
}

func (e *mediaEnv) close() {
	if e.db != nil {
		e.db.Close(context.Background())
	}
	if e.minio != nil {
		e.minio.Stop(10 * time.Second)
	}
}

// openMedia connects to the database and the object store: the configured
// S3 endpoint, a running server's MinIO, or a MinIO started here.
func openMedia(ctx context.Context, cfg *config.Config, log *slog.Logger) (*mediaEnv, error) {
	e := &mediaEnv{cfg: cfg}
	opts, p, err := objectStoreOptions(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	e.minio = p
	store, err := media.NewObjectStore(opts)
	if err != nil {
		e.close()
		return nil, err
	}
	if err := store.EnsureBucket(ctx); err != nil {
		e.close()
		return nil, err
	}
	e.db, err = database.Open(ctx, database.Options{URI: cfg.MongoURI, Database: cfg.MongoDatabase, Dir: cfg.DBDir(), Logger: log, Attach: true})
	if err != nil {
		e.close()
		return nil, err
	}
	e.lib = media.NewCatalog(e.db, store, media.Options{MaxSize: cfg.MaxUploadSize(), Logger: log})
	return e, nil
}

// objectStoreOptions locate the configured object store for a command:
// the S3 endpoint, a running server's MinIO, or a MinIO started here
// (returned, for the caller to stop).
func objectStoreOptions(ctx context.Context, cfg *config.Config, log *slog.Logger) (media.ObjectStoreOptions, *minioproc.Process, error) {
	opts := media.ObjectStoreOptions{Endpoint: cfg.S3Endpoint, Region: cfg.S3Region, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey,
		Bucket: cfg.S3Bucket, PublicURL: cfg.S3PublicURL}
	if cfg.S3Endpoint != "" {
		return opts, nil, nil
	}
	if endpoint, creds, ok := minioproc.Attach(cfg.MinIODir()); ok {
		opts.Endpoint, opts.AccessKey, opts.SecretKey = endpoint, creds.AccessKey, creds.SecretKey
		return opts, nil, nil
	}
	// Never a second MinIO beside a running server's: Start refuses a
	// folder whose lock another process holds.
	p, err := minioproc.Start(ctx, minioproc.Options{Bin: cfg.MinIOBin, Dir: cfg.MinIODir(), Logger: log})
	if errors.Is(err, minioproc.ErrLocked) {
		return opts, nil, fmt.Errorf("a running server owns %s, but its MinIO does not answer now (it may be restarting); try again in a moment", cfg.MinIODir())
	}
	if err != nil {
		return opts, nil, err
	}
	opts.Endpoint, opts.AccessKey, opts.SecretKey = p.Endpoint(), p.Credentials.AccessKey, p.Credentials.SecretKey
	return opts, p, nil
}

func mediaCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mediaUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	own, rest, err := takeFlags(args, "title", "id", "captions", "grace")
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: %v\n%s", err, mediaUsage)
		return exitUsage
	}
	force := false
	var positional, configArgs []string
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--force" || a == "-force":
			force = true
		case strings.HasPrefix(a, "-"):
			configArgs = append(configArgs, a)
			if !strings.Contains(a, "=") && i+1 < len(rest) {
				configArgs = append(configArgs, rest[i+1])
				i++
			}
		default:
			positional = append(positional, a)
		}
	}
	want := map[string]int{"upload": 1, "captions": 3, "list": 0, "delete": 1, "gc": 0, "generate": 0}
	n, known := want[sub]
	if !known || len(positional) != n {
		fmt.Fprint(stderr, mediaUsage)
		return exitUsage
	}
	cfg, code := loadConfig("media "+sub, configArgs, getenv, stderr)
	if cfg == nil {
		return code
	}
	log := cfg.Logger(stderr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	e, err := openMedia(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: %v\n", err)
		return exitFailure
	}
	defer e.close()
	switch sub {
	case "upload":
		err = e.upload(ctx, positional[0], own, stdout)
	case "captions":
		err = e.captions(ctx, positional[0], positional[1], positional[2], stdout)
	case "list":
		err = e.list(ctx, stdout)
	case "delete":
		err = e.delete(ctx, positional[0], stdout)
	case "gc":
		err = e.gc(ctx, own["grace"], stdout)
	case "generate":
		err = e.generate(ctx, force, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: media %s: %v\n", sub, err)
		return exitFailure
	}
	return exitOK
}

func (e *mediaEnv) upload(ctx context.Context, file string, own map[string]string, stdout io.Writer) error {
	if own["title"] == "" {
		return errors.New("--title is required")
	}
	var tracks [][2]string
	if c := own["captions"]; c != "" {
		for _, pair := range strings.Split(c, ",") {
			lang, path, ok := strings.Cut(pair, "=")
			if !ok {
				return fmt.Errorf("--captions takes LANG=FILE.vtt pairs separated by commas, not %q", pair)
			}
			tracks = append(tracks, [2]string{lang, path})
		}
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	it, err := e.lib.Put(ctx, media.Upload{ID: own["id"], Title: own["title"], Uploader: "cli", Body: f})
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "stored %s: %s, %s, %s, sha256 %s (%.1f MB/s)\n", it.ID, it.Kind, it.ContentType, media.FormatSize(it.Size), it.SHA256,
		float64(it.Size)/1e6/max(secs, 0.001))
	for _, t := range tracks {
		if err := e.captions(ctx, it.ID, t[0], t[1], stdout); err != nil {
			return err
		}
	}
	return nil
}

func (e *mediaEnv) captions(ctx context.Context, id, lang, file string, stdout io.Writer) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	it, err := e.lib.SetCaptions(ctx, id, lang, data)
	if err != nil {
		var vtt media.VTTErrors
		if errors.As(err, &vtt) {
			for _, le := range vtt {
				fmt.Fprintf(stdout, "%s:%d: %s\n", file, le.Line, le.Msg)
			}
			return fmt.Errorf("%s has %d problems", file, len(vtt))
		}
		return err
	}
	fmt.Fprintf(stdout, "captions %s for %s: %d cues\n", lang, it.ID, len(it.Caption(lang).Cues))
	return nil
}

func (e *mediaEnv) list(ctx context.Context, stdout io.Writer) error {
	items, err := e.lib.List(ctx)
	if err != nil {
		return err
	}
	for _, it := range items {
		langs := make([]string, 0, len(it.Captions))
		for _, c := range it.Captions {
			langs = append(langs, c.Lang)
		}
		fmt.Fprintf(stdout, "%-32s %-6s %9s %7.1f s  captions [%s]  %s\n", it.ID, it.Kind, media.FormatSize(it.Size), it.Duration, strings.Join(langs, " "), it.Title)
	}
	fmt.Fprintf(stdout, "%d items\n", len(items))
	return nil
}

func (e *mediaEnv) delete(ctx context.Context, id string, stdout io.Writer) error {
	var places []string
	if pub, err := studio.NewStore(e.db).LoadPublished(ctx); err == nil && pub != nil {
		for _, s := range pub.Course.MediaUses(id) {
			places = append(places, s.URL())
		}
	}
	if err := e.lib.Delete(ctx, id, places); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deleted %s\n", id)
	return nil
}

func (e *mediaEnv) gc(ctx context.Context, grace string, stdout io.Writer) error {
	d := time.Hour
	if grace != "" {
		var err error
		if d, err = time.ParseDuration(grace); err != nil || d < 0 {
			return fmt.Errorf("--grace %q is not a duration such as 1h", grace)
		}
	}
	removed, err := e.lib.GC(ctx, d)
	for _, k := range removed {
		fmt.Fprintf(stdout, "removed %s\n", k)
	}
	fmt.Fprintf(stdout, "%d objects removed\n", len(removed))
	return err
}

// generate makes the course's videos and podcasts from their scripts and
// stores them, skipping those whose script has not changed.
func (e *mediaEnv) generate(ctx context.Context, force bool, stdout io.Writer) error {
	c, problems := course.Load(contentFS(e.cfg.ContentDir))
	if len(problems) > 0 {
		return fmt.Errorf("the content has problems; run tyokyky content check:\n%s", problems.Error())
	}
	if missing := media.Tools(); len(missing) > 0 {
		return fmt.Errorf("%s not installed: on Debian, apt-get install espeak-ng ffmpeg fonts-dejavu-core (make media does it)", strings.Join(missing, " and "))
	}
	ids := make([]string, 0, len(c.Media))
	for id := range c.Media {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	made := 0
	for _, id := range ids {
		m := c.Media[id]
		script := media.Script{ID: id, Title: m.Title, Kind: m.Kind, Text: m.Script(), Footer: c.Meta.Title}
		if old, err := e.lib.Get(ctx, id); err == nil && old.Source == script.Source() && old.Caption("fi") != nil && !force {
			fmt.Fprintf(stdout, "%s: up to date\n", id)
			continue
		}
		start := time.Now()
		if _, err := e.lib.Produce(ctx, script); err != nil {
			return err
		}
		made++
		fmt.Fprintf(stdout, "%s: made and stored in %s\n", id, time.Since(start).Round(100*time.Millisecond))
	}
	fmt.Fprintf(stdout, "%d of %d media made\n", made, len(ids))
	return nil
}
